"""How stored documents are kept: compressed with zstd and a dictionary of their common parts.

A stored document (app/representation.py) is about 1.1 KB of JSON per version, and most of it is
the same from record to record: member names, hrefs, nulls. Compressed one by one with a
dictionary trained on such documents, each keeps about a quarter of its size (a fifth of the
table's pages at a million records), so more of a database fits in memory and a cold read
touches fewer pages. Decompressing one costs about 2 µs.

A packed document is one byte naming its dictionary (`FORMAT_1`), then a standard zstd frame
(`zstd -d -D app/data/representation-1.zdict` reads it). A stored value that starts with `{` is
a document kept as it is, as revision 0008 wrote them; both are read back the same way, so a
database is served correctly before and after revision 0010 packs it.

Dictionary 1 was trained (`python -m app.codec train`) on the v1 and v2 documents of seeds/ at
data set version 1.2.0: the real records the project publishes, not the benchmark's synthetic
ones. It never changes: a better dictionary would be dictionary 2, with a byte of its own and a
migration that packs the documents again.
"""

import sys
import threading
from importlib import resources

import zstandard

FORMAT_1 = b"\x01"
"""First byte of a document packed with dictionary 1."""
PLAIN = b"{"
"""First byte of a document kept as it is (every document is a JSON object)."""
LEVEL = 3  # zstd's default: level 6 saves 8% more for 2.5x the time to pack
DICTIONARY_SIZE = 16384  # trained sizes from 8 to 64 KB packed the benchmark's data alike

Buffer = bytes | bytearray | memoryview

_DICTIONARY = zstandard.ZstdCompressionDict(
    resources.files("app").joinpath("data/representation-1.zdict").read_bytes()
)
_local = threading.local()  # zstandard's (de)compressors are not to be shared between threads


def pack(document: bytes) -> bytes:
    """`document` (JSON bytes) as it is stored."""
    try:
        compressor = _local.compressor
    except AttributeError:
        compressor = _local.compressor = zstandard.ZstdCompressor(
            level=LEVEL,
            dict_data=_DICTIONARY,
            write_checksum=False,  # the database keeps its pages whole
            write_content_size=True,  # unpack() then makes its output in one allocation
            write_dict_id=False,  # FORMAT_1 names the dictionary
        )
    return FORMAT_1 + compressor.compress(document)


def unpack(stored: bytes | memoryview | str) -> bytes:
    """A stored document (what a driver returns for the column) as the JSON bytes it holds."""
    if isinstance(stored, str):
        return stored.encode()
    if stored[:1] == FORMAT_1:
        try:
            decompressor = _local.decompressor
        except AttributeError:
            decompressor = _local.decompressor = zstandard.ZstdDecompressor(dict_data=_DICTIONARY)
        return decompressor.decompress(memoryview(stored)[1:])
    if stored[:1] != PLAIN:
        raise ValueError(f"a stored document in an unknown format (first byte {stored[:1]!r})")
    return bytes(stored)


def train(documents: list[Buffer], size: int = DICTIONARY_SIZE) -> bytes:
    """A dictionary for `documents` (how dictionary 1 was made; deterministic)."""
    return zstandard.train_dictionary(size, documents, level=LEVEL, threads=1).as_bytes()


def _train_from(database_url: str, out: str) -> None:
    import sqlalchemy as sa

    from app.db import create_engine

    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT v1, v2 FROM representation ORDER BY entity_type, entity_id")
        )
        documents: list[Buffer] = [unpack(d) for row in rows for d in row]
    engine.dispose()
    with open(out, "wb") as file:
        file.write(train(documents))


if __name__ == "__main__":
    # python -m app.codec train <database with seeds/ loaded> <dictionary file>
    if len(sys.argv) != 4 or sys.argv[1] != "train":
        sys.exit("usage: python -m app.codec train DATABASE_URL OUT")
    _train_from(sys.argv[2], sys.argv[3])
