"""Read and validate a seeds folder completely before the database is touched.

Every problem is reported as `file: record 'key': field 'path': message`, all of them at once, so
a curator can fix a file in one pass. Nothing here writes anything.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.evidence import SourceText
from app.seed_schema import (
    DATASET_FILE,
    EVIDENCED,
    SEED_FILES,
    DatasetSeed,
    QuoteSeed,
    SeedRecord,
)
from app.settings import PROJECT_ROOT


class SeedError(Exception):
    """The seeds cannot be loaded; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class LocatedQuote:
    """A record's quote for one field, found in its source: `start`/`end` are character offsets
    in the source's text as stored (`text[start:end]` is the passage)."""

    path: str
    source: str
    quote: str
    section: str | None
    start: int
    end: int


@dataclass
class SeedSet:
    dataset: DatasetSeed
    records: dict[str, dict[str, BaseModel]] = field(default_factory=dict)
    """entity name -> id -> validated record, in the order of SEED_FILES."""
    evidence: dict[str, dict[str, list[LocatedQuote]]] = field(default_factory=dict)
    """entity name -> id -> the record's quotes, located in their sources."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a seed file must not."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate field '{key}'", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
# Dates stay strings: the schema parses partial dates ("2016-12") itself, and a YAML timestamp
# would turn "2018-06-08" into a date object that strict validation then refuses.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_yaml(path: Path, display: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SeedError([f"{display}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedError([f"{display}:{where}: invalid YAML: {problem}"]) from None


def _field_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _describe(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
        shown = repr(error["input"])
        message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return message


def _validate_records(
    entity: str, display: str, data: Any, model: type[BaseModel]
) -> tuple[dict[str, BaseModel], list[str]]:
    if data is None:
        data = []
    if not isinstance(data, list):
        return {}, [f"{display}: expected a list of records, found {type(data).__name__}"]
    records: dict[str, BaseModel] = {}
    problems: list[str] = []
    for position, raw in enumerate(data, start=1):
        key = raw.get("id") if isinstance(raw, dict) else None
        label = f"record '{key}'" if isinstance(key, str) else f"record #{position}"
        if not isinstance(raw, dict):
            problems.append(f"{display}: {label}: expected a mapping of fields")
            continue
        try:
            record = model.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                where = _field_path(error["loc"])
                prefix = f"field '{where}': " if where else ""
                problems.append(f"{display}: {label}: {prefix}{_describe(error)}")
            continue
        record_id = record.id  # type: ignore[attr-defined]
        if record_id in records:
            problems.append(f"{display}: {label}: duplicate id (record #{position})")
            continue
        records[record_id] = record
    return records, problems


def read_seeds(folder: Path) -> SeedSet:
    """Parse and validate every seed file and every reference between them."""
    if not folder.is_dir():
        raise SeedError([f"{folder}: not a folder of seed files"])
    expected = {name for name, _ in SEED_FILES.values()} | {DATASET_FILE}
    problems: list[str] = []
    for path in sorted(folder.glob("*.y*ml")):
        if path.name not in expected:
            problems.append(
                f"{folder / path.name}: unknown seed file (expected {', '.join(sorted(expected))})"
            )
    for name in sorted(expected):
        if not (folder / name).is_file():
            problems.append(f"{folder / name}: missing (an empty list [] is allowed)")
    if problems:
        raise SeedError(problems)

    dataset_raw = _parse_yaml(folder / DATASET_FILE, str(folder / DATASET_FILE))
    dataset: DatasetSeed | None = None
    try:
        dataset = DatasetSeed.model_validate(dataset_raw)
    except ValidationError as exc:
        for error in exc.errors():
            where = _field_path(error["loc"])
            problems.append(f"{folder / DATASET_FILE}: field '{where}': {_describe(error)}")

    records: dict[str, dict[str, BaseModel]] = {}
    for entity, (name, model) in SEED_FILES.items():
        display = str(folder / name)
        try:
            data = _parse_yaml(folder / name, display)
        except SeedError as exc:
            problems.extend(exc.problems)
            continue
        records[entity], found = _validate_records(entity, display, data, model)
        problems.extend(found)
    if problems:
        raise SeedError(problems)

    assert dataset is not None
    seeds = SeedSet(dataset=dataset, records=records)
    problems.extend(_check_references(folder, seeds))
    problems.extend(_check_cycles(folder, seeds))
    if problems:
        raise SeedError(problems)
    problems.extend(_check_evidence(folder, seeds))
    if problems:
        raise SeedError(problems)
    return seeds


# Which fields refer to which entity, per entity. A path item "x[]" walks a list.
REFERENCES: dict[str, list[tuple[str, str]]] = {
    "theme": [],
    "country": [("strategy_organisations[].organisation", "organisation")],
    "action_plan": [("country", "country")],
    "legal_basis": [("country", "country")],
    "city": [("country", "country"), ("themes[]", "theme")],
    "organisation": [
        ("country", "country"),
        ("city", "city"),
        ("parent", "organisation"),
        ("relations[].organisation", "organisation"),
    ],
    "cooperation": [
        ("country", "country"),
        ("city", "city"),
        ("model", "cooperation"),
        ("legal_basis", "legal_basis"),
        ("members[].organisation", "organisation"),
        ("members[].cooperation", "cooperation"),
    ],
    "practice": [
        ("country", "country"),
        ("parent", "practice"),
        ("predecessor", "practice"),
        ("organisations[].organisation", "organisation"),
        ("cooperations[].cooperation", "cooperation"),
        ("cities[]", "city"),
        ("themes[]", "theme"),
    ],
    "contact_point": [("organisation", "organisation"), ("practice", "practice")],
}


def _walk(value: Any, path: list[str], shown: str) -> Iterator[tuple[str, Any]]:
    if not path:
        yield shown, value
        return
    head, rest = path[0], path[1:]
    name, is_list = (head[:-2], True) if head.endswith("[]") else (head, False)
    child = getattr(value, name) if name else value
    if child is None:
        return
    if is_list:
        for index, item in enumerate(child):
            yield from _walk(item, rest, f"{shown}{'.' if shown else ''}{name}[{index}]")
    else:
        yield from _walk(child, rest, f"{shown}{'.' if shown else ''}{name}")


def _check_references(folder: Path, seeds: SeedSet) -> list[str]:
    problems = []
    sources = seeds.records["source"]
    for entity, (name, _) in SEED_FILES.items():
        display = folder / name
        for record_id, record in seeds.records[entity].items():
            for where, target_id in _references_of(record, REFERENCES.get(entity, [])):
                target_entity, value = target_id
                if value not in seeds.records[target_entity]:
                    problems.append(
                        f"{display}: record '{record_id}': field '{where}': "
                        f"unknown {target_entity.replace('_', ' ')} '{value}'"
                    )
            if isinstance(record, SeedRecord):
                for index, citation in enumerate(record.cited_sources()):
                    if citation.source not in sources:
                        problems.append(
                            f"{display}: record '{record_id}': field 'sources[{index}]': "
                            f"unknown source '{citation.source}'"
                        )
    return problems


def _references_of(
    record: BaseModel, checks: list[tuple[str, str]]
) -> Iterator[tuple[str, tuple[str, str]]]:
    for path, target in checks:
        for where, value in _walk(record, path.split("."), ""):
            yield where, (target, value)


def _check_cycles(folder: Path, seeds: SeedSet) -> list[str]:
    """A parent chain (or a cooperation's model chain) must end; a loop has no root."""
    problems = []
    chains: list[tuple[str, str]] = [
        ("organisation", "parent"),
        ("practice", "parent"),
        ("practice", "predecessor"),
        ("cooperation", "model"),
    ]
    for entity, attribute in chains:
        records = seeds.records[entity]
        for start in records:
            seen = [start]
            current = getattr(records[start], attribute)
            while current is not None and current in records:
                if current == start:
                    loop = " -> ".join([*seen, start])
                    problems.append(
                        f"{folder / SEED_FILES[entity][0]}: record '{start}': field "
                        f"'{attribute}': the {attribute} chain loops ({loop})"
                    )
                    break
                if current in seen:
                    break  # a loop further up, reported from one of its own members
                seen.append(current)
                current = getattr(records[current], attribute)
    return problems


# --- evidence ------------------------------------------------------------------------------------


def _present(value: Any) -> bool:
    return value is not None and value != [] and value != {}


def _covers(key: str, path: str) -> bool:
    return path == key or path.startswith((f"{key}.", f"{key}["))


def _paths_of(record: BaseModel) -> set[str]:
    """Every field path in the record that holds a value (`leaders`, `leaders[0]`,
    `leaders[0].role`, ...): what an evidence key may name."""
    found: set[str] = set()

    def visit(value: Any, shown: str) -> None:
        if not _present(value):
            return
        found.add(shown)
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name), f"{shown}.{name}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{shown}[{index}]")

    for name in type(record).model_fields:
        if name not in ("id", "sources", "evidence"):
            visit(getattr(record, name), name)
    return found


def read_source_texts(folder: Path, seeds: SeedSet) -> tuple[dict[str, SourceText], list[str]]:
    """Each source's text, read from `document` relative to the data set's root (the folder
    that holds `seeds/` and `sources/`), else relative to this project's root, so a copy of
    seeds/ made elsewhere (to try an edit) still finds the texts the repository keeps."""
    roots = [folder.resolve().parent, PROJECT_ROOT]
    display = folder / SEED_FILES["source"][0]
    texts: dict[str, SourceText] = {}
    problems = []
    for source_id, source in seeds.records["source"].items():
        document = source.document  # type: ignore[attr-defined]
        path = next((r / document for r in roots if (r / document).is_file()), roots[0] / document)
        try:
            texts[source_id] = SourceText.read(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            problems.append(
                f"{display}: record '{source_id}': field 'document': cannot read {path}: {reason}"
            )
    return texts, problems


def _check_evidence(folder: Path, seeds: SeedSet) -> list[str]:
    """Every structured value (EVIDENCED) has a quote, unless the data set says evidence is
    optional; every quote names a source the record cites and is found in that source's text."""
    required = seeds.dataset.evidence == "required"
    if not required and not any(
        getattr(r, "evidence", None) for records in seeds.records.values() for r in records.values()
    ):
        return []
    texts, problems = read_source_texts(folder, seeds)
    if problems:
        return problems
    for entity, (name, _) in SEED_FILES.items():
        display = folder / name
        located: dict[str, list[LocatedQuote]] = {}
        for record_id, record in seeds.records[entity].items():
            if not isinstance(record, SeedRecord):
                continue
            where = f"{display}: record '{record_id}'"
            paths = _paths_of(record)
            for key in record.evidence:
                if key not in paths:
                    problems.append(
                        f"{where}: field 'evidence.{key}': the record has no value at '{key}'"
                    )
            if required:
                keys = list(record.evidence)
                for path, value in _evidenced_values(record, EVIDENCED.get(entity, [])):
                    if _present(value) and not any(_covers(k, path) for k in keys):
                        problems.append(
                            f"{where}: field '{path}': no quote from a source states this value "
                            f"(add it under evidence: {path}: {{source: ..., quote: ...}})"
                        )
            cited = {c.source for c in record.cited_sources()}
            found: list[LocatedQuote] = []
            for path, quote in record.quotes():
                problem = _locate(quote, cited, texts, seeds, path, found)
                if problem:
                    problems.append(f"{where}: field 'evidence.{path}': {problem}")
            located[record_id] = found
        seeds.evidence[entity] = located
    return problems


def _evidenced_values(record: BaseModel, paths: list[str]) -> Iterator[tuple[str, Any]]:
    for path in paths:
        yield from _walk(record, path.split("."), "")


def _locate(
    quote: QuoteSeed,
    cited: set[str],
    texts: dict[str, SourceText],
    seeds: SeedSet,
    path: str,
    found: list[LocatedQuote],
) -> str | None:
    if quote.source is None:
        return "give the quote's source: the record cites more than one"
    if quote.source not in cited:
        listed = ", ".join(sorted(cited))
        return f"source '{quote.source}' is not among the record's sources ({listed})"
    span = texts[quote.source].locate(quote.quote, quote.section)
    if span is None:
        document = seeds.records["source"][quote.source].document  # type: ignore[attr-defined]
        shown = quote.quote if len(quote.quote) <= 80 else quote.quote[:77] + "..."
        return f"quote not found in {document} (source '{quote.source}'): {shown!r}"
    found.append(LocatedQuote(path, quote.source, quote.quote, quote.section, *span))
    return None
