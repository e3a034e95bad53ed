"""Stored representations (app/representation.py): every write path stores what the API would
build from the rows, the API serves those bytes, and `scn db check` finds any difference."""

import subprocess
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from app import codec, i18n, representation
from app.api.records import V1, V2, Context, build
from app.db import create_engine
from app.loader import load
from app.migrate import downgrade, upgrade
from app.mirror import prepare_lines
from app.models import ENTITIES, table
from app.sync import export_count, export_pieces
from tests.helpers import drifts, edit_record, lines_of, remove_record
from tests.live import client, live_server
from tests.test_cli import scn


def db_check(url: str) -> subprocess.CompletedProcess[str]:
    return scn("db", "check", "--database", url)


def test_a_load_stores_what_the_api_builds_and_a_reload_keeps_it_so(
    database_url: str, seeds: Path
) -> None:
    engine = create_engine(database_url)
    try:
        load(engine, seeds)
        assert drifts(database_url) == []
        edit_record(seeds, "cities.yaml", "viborg", lambda r: r.update(population=93_000))
        remove_record(seeds, "contact_points.yaml", "mhtconsult-email")
        load(engine, seeds)
        assert drifts(database_url) == []
        with engine.connect() as connection:
            r = table(representation.TABLE)
            viborg = connection.execute(
                sa.select(r.c.v2).where(r.c.entity_type == "city", r.c.entity_id == "viborg")
            ).scalar_one()
            assert orjson.loads(codec.unpack(viborg))["population"] == 93_000
            gone = connection.execute(
                sa.select(r.c.entity_id).where(r.c.entity_id == "mhtconsult-email")
            ).all()
            assert gone == []
    finally:
        engine.dispose()


def test_served_records_are_the_stored_bytes_narrowed_as_the_builders_would(
    loaded_database_url: str,
) -> None:
    """For every record, version and language: the stored path's bytes are the builders'."""
    engine = create_engine(loaded_database_url)
    try:
        with engine.connect() as connection:
            for entity in ENTITIES:
                t = table(entity)
                query = sa.select(t).order_by(t.c.id)
                rows = connection.execute(query).mappings().all()
                for api, choices in ((V1, [None]), (V2, [None, ["fr"], ["da"], ["de", "da"]])):
                    for languages in choices:
                        ctx = Context(connection, personal_contacts=True, api=api)
                        ctx.languages = languages
                        expected = build(ctx, entity, rows)
                        served = representation.documents(connection, entity, query, api, languages)
                        assert [d.body for d in served] == [orjson.dumps(x) for x in expected]
                        if api == V2:
                            for document, row in zip(served, rows, strict=True):
                                one = Context(
                                    connection, personal_contacts=True, api=api, languages=languages
                                )
                                one.localised(entity, row)
                                assert document.languages == one.languages_used
    finally:
        engine.dispose()


def test_every_translatable_field_is_narrowed_where_v2_puts_it() -> None:
    for entity in ENTITIES:
        assert set(representation.TEXT_PATHS[entity]) == set(i18n.translatable(entity))


def test_the_check_names_every_drift_and_the_api_still_serves_the_rows(
    loaded_database_url: str,
) -> None:
    engine = create_engine(loaded_database_url)
    with live_server(loaded_database_url) as base, client(base) as http:
        before = {path: http.get(path).content for path in ("/v2/organisations/pet", "/v1/cities")}
        r = table(representation.TABLE)
        with engine.begin() as connection:
            connection.execute(
                sa.update(r)
                .where(r.c.entity_type == "city", r.c.entity_id == "viborg")
                .values(v1=b'{"tampered":true}')
            )
            connection.execute(
                sa.delete(r).where(r.c.entity_type == "organisation", r.c.entity_id == "pet")
            )
            connection.execute(
                sa.insert(r).values(
                    entity_type="city", entity_id="atlantis", v1=b"{}", v2=b"{}", v2_languages=""
                )
            )
        result = db_check(loaded_database_url)
        assert result.returncode == 1
        assert "city 'viborg': stored v1 document differs" in result.stderr
        assert "organisation 'pet': no stored representation" in result.stderr
        assert "city 'atlantis': stored representation of a record that does not exist" in (
            result.stderr
        )
        assert "3 stored representations differ from their records" in result.stderr
        # A record without a stored document is rendered from its rows: the same bytes.
        assert http.get("/v2/organisations/pet").content == before["/v2/organisations/pet"]
    engine.dispose()


def test_the_check_passes_on_a_loaded_database(loaded_database_url: str) -> None:
    result = db_check(loaded_database_url)
    assert result.returncode == 0, result.stderr
    assert "every stored representation matches its rows" in result.stdout


def test_the_migration_renders_what_a_database_holds_and_its_downgrade_removes_it(
    loaded_database_url: str,
) -> None:
    downgrade(loaded_database_url, "0007")
    engine = create_engine(loaded_database_url)
    try:
        assert representation.TABLE not in sa.inspect(engine).get_table_names()
        upgrade(loaded_database_url)
        assert drifts(loaded_database_url) == []
        with engine.connect() as connection:
            stored = connection.execute(
                sa.select(sa.func.count()).select_from(table(representation.TABLE))
            ).scalar_one()
            assert stored == export_count(connection, None, personal_contacts=True) > 100
    finally:
        engine.dispose()


def test_the_check_refuses_a_database_it_cannot_read() -> None:
    result = db_check("sqlite:////nonexistent/dir/x.db")
    assert result.returncode in (1, 2)
    assert result.stderr.startswith("scn: ")
    assert "Traceback" not in result.stderr


def _stored(url: str) -> dict[tuple[str, str], tuple[bytes, bytes, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            r = table(representation.TABLE)
            return {
                (e, i): (codec.unpack(v1), codec.unpack(v2), languages)
                for e, i, v1, v2, languages in connection.execute(
                    sa.select(r.c.entity_type, r.c.entity_id, r.c.v1, r.c.v2, r.c.v2_languages)
                )
            }
    finally:
        engine.dispose()


def _export(url: str) -> list[bytes]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            return lines_of(export_pieces(connection, None, personal_contacts=True, api=V2))[1:]
    finally:
        engine.dispose()


def test_records_rendered_in_memory_from_a_v2_export_are_what_the_database_renders(
    loaded_database_url: str,
) -> None:
    """`scn mirror` renders a snapshot's records from the rows it maps them to, without reading
    them back: each document is the one rendered from the database, byte for byte."""
    stored = _stored(loaded_database_url)
    prepared = prepare_lines(_export(loaded_database_url), render=True)
    assert {(p.entity, p.record_id) for p in prepared} == set(stored)
    for p in prepared:
        assert p.rendered is not None, (p.entity, p.record_id)
        made = (p.rendered.v1, p.rendered.v2, p.rendered.languages)
        assert made == stored[(p.entity, p.record_id)], (p.entity, p.record_id)


def test_a_record_whose_rows_do_not_give_back_its_document_is_not_rendered_in_memory(
    loaded_database_url: str,
) -> None:
    """A source on another version of the code (here: a field this one does not know) sends a
    document its rows do not reproduce: the mirror renders that record from the database."""
    first, *rest = _export(loaded_database_url)
    unknown = orjson.loads(first) | {"added_by_a_newer_source": 1}
    prepared = prepare_lines([orjson.dumps(unknown), *rest[:5]], render=True)
    assert prepared[0].rendered is None
    assert all(p.rendered is not None for p in prepared[1:])


def _every_export(url: str) -> dict[str, bytes]:
    """Each kind of export of the database at `url`, whole, by a name for the assertion."""
    engine = create_engine(url)
    kinds = {
        "v1": {"api": V1},
        "v2": {"api": V2},
        "v2, with evidence": {"api": V2, "with_evidence": True},
        "v2 in Danish, with evidence": {"api": V2, "languages": ["da"], "with_evidence": True},
    }
    try:
        with engine.connect() as connection, connection.begin():
            return {
                f"{name}, personal {personal}": b"".join(
                    export_pieces(connection, None, personal_contacts=personal, **options)  # type: ignore[arg-type]
                )
                for name, options in kinds.items()
                for personal in (True, False)
            }
    finally:
        engine.dispose()


def test_the_export_sends_the_stored_documents_and_renders_a_record_without_one(
    loaded_database_url: str,
) -> None:
    """The export joins stored documents into its lines as they are; a record without one (in
    the same batch as records with one) is rendered from its rows: the same bytes either way."""
    from_stored = _every_export(loaded_database_url)
    engine = create_engine(loaded_database_url)
    try:
        with engine.begin() as connection:
            r = table(representation.TABLE)
            ids = connection.execute(sa.select(r.c.entity_type, r.c.entity_id)).all()
            for entity, record_id in ids[::2]:
                connection.execute(
                    sa.delete(r).where(r.c.entity_type == entity, r.c.entity_id == record_id)
                )
    finally:
        engine.dispose()
    assert _every_export(loaded_database_url) == from_stored
    lines = from_stored["v2, with evidence, personal False"].splitlines()
    assert len(lines) > 100
    assert any(orjson.loads(line).get("evidence") for line in lines[1:])


def _served(url: str) -> dict[str, tuple[int, bytes, str | None]]:
    """Every record and every first list page, in v1 and in v2 (whole and in Danish): status,
    body and ETag, from a server with no response cache."""
    out = {}
    with live_server(url, response_cache_mb=0) as base, client(base) as http:
        paths = []
        for collection in ("organisations", "practices", "cities", "contact-points", "themes"):
            for api in ("v1", "v2"):
                page = http.get(f"/{api}/{collection}", params={"limit": 100}).json()
                paths += [f"/{api}/{collection}"] + [r["links"]["self"] for r in page["data"]]
        for path in paths:
            for headers in ({}, {"Accept-Language": "da"}):
                response = http.get(path, headers=headers)
                out[f"{path} {headers}"] = (
                    response.status_code,
                    response.content,
                    response.headers.get("etag"),
                )
    return out


def test_documents_are_stored_packed_and_a_plain_one_is_served_alike(
    loaded_database_url: str,
) -> None:
    """Every stored document is packed (app/codec.py: a quarter of its size or less); one kept
    as revision 0008 wrote it (plain JSON) gives the same responses and exports, byte for byte."""
    served, exported = _served(loaded_database_url), _every_export(loaded_database_url)
    engine = create_engine(loaded_database_url)
    r = table(representation.TABLE)
    try:
        with engine.begin() as connection:
            rows = connection.execute(sa.select(r).order_by(r.c.entity_type, r.c.entity_id)).all()
            assert all(row.v1[:1] == row.v2[:1] == codec.FORMAT_1 for row in rows)
            plain = sum(len(codec.unpack(row.v1)) + len(codec.unpack(row.v2)) for row in rows)
            assert sum(len(row.v1) + len(row.v2) for row in rows) < plain / 4
            for row in rows[::2]:
                connection.execute(
                    sa.update(r)
                    .where(r.c.entity_type == row.entity_type, r.c.entity_id == row.entity_id)
                    .values(v1=codec.unpack(row.v1), v2=codec.unpack(row.v2))
                )
    finally:
        engine.dispose()
    assert drifts(loaded_database_url) == []
    assert _every_export(loaded_database_url) == exported
    assert _served(loaded_database_url) == served


def test_revision_0010_packs_the_documents_and_its_downgrade_gives_them_back_plain(
    loaded_database_url: str,
) -> None:
    exported = _every_export(loaded_database_url)
    packed = _stored(loaded_database_url)
    downgrade(loaded_database_url, "0009")
    engine = create_engine(loaded_database_url)
    r = table(representation.TABLE)
    try:
        with engine.connect() as connection:
            firsts = connection.execute(
                sa.select(sa.func.substr(r.c.v1, 1, 1), sa.func.substr(r.c.v2, 1, 1)).distinct()
            ).all()
            assert [tuple(bytes(b) for b in row) for row in firsts] == [(b"{", b"{")]
        assert drifts(loaded_database_url) == []
        assert _stored(loaded_database_url) == packed  # the same documents, unpacked
        upgrade(loaded_database_url)
        with engine.connect() as connection:
            firsts = connection.execute(
                sa.select(sa.func.substr(r.c.v1, 1, 1), sa.func.substr(r.c.v2, 1, 1)).distinct()
            ).all()
            assert [tuple(bytes(b) for b in row) for row in firsts] == [(b"\x01", b"\x01")]
    finally:
        engine.dispose()
    assert drifts(loaded_database_url) == []
    assert _every_export(loaded_database_url) == exported


def test_a_stored_value_in_no_known_format_is_an_error_not_a_document() -> None:
    document = orjson.dumps({"name": {"da": "Aarhus Kommune", "en": "Aarhus Municipality"}})
    assert codec.unpack(codec.pack(document)) == document
    assert codec.unpack(memoryview(codec.pack(document))) == document  # psycopg's bytea
    with pytest.raises(ValueError, match="unknown format"):
        codec.unpack(b"\x02" + codec.pack(document)[1:])
