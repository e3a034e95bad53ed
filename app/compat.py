"""Is a new OpenAPI contract compatible with a released one? The list of what would break.

A released contract (openapi/released/vN.json) is a promise: within a major version, clients
written against it keep working. This module lists the changes of a candidate contract that
break that promise:

- a path or an operation is removed (a rename is a removal plus an addition);
- a parameter is removed or renamed, a required parameter is added, an optional one becomes
  required;
- what a parameter accepts narrows: a type dropped, an enum value dropped, a tighter length,
  bound, item count or pattern;
- a response field is removed or renamed, stops being required (clients may rely on it), or its
  type changes to one old clients do not expect (a type added, such as null);
- an enum value is removed anywhere.

Descriptions, examples, new paths, new optional parameters and new response fields are
compatible. A listed change that breaks no client (a bound the server always enforced, now
declared) is acknowledged, with its reason, in `acknowledged.json` beside the released file; an
acknowledgement that no longer matches a change is reported too, so the list cannot go stale.
No maintained tool that installs from the registries reads OpenAPI 3.1 (oasdiff is not on PyPI;
npm's openapi-diff parses 3.0 only), hence this focused module (docs/DEVELOPMENT.md).
"""

import json
import sys
from pathlib import Path
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
Schema = dict[str, Any]


class Contract:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, schema: Schema) -> Schema:
        seen = set()
        while "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen:
                break
            seen.add(ref)
            node: Any = self.spec
            for part in ref.removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def types(self, schema: Schema) -> set[str]:
        """The JSON types a schema allows (`object` for a reference to a model)."""
        schema = self.resolve(schema)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return {t for branch in branches for t in self.types(branch)}
        if "type" in schema:
            kind = schema["type"]
            return set(kind) if isinstance(kind, list) else {kind}
        if "properties" in schema or "additionalProperties" in schema:
            return {"object"}
        if "enum" in schema or "const" in schema:
            values = schema.get("enum", [schema.get("const")])
            return {_json_type(v) for v in values}
        return {"any"}

    def enum(self, schema: Schema) -> set[Any] | None:
        schema = self.resolve(schema)
        for branch in schema.get("anyOf", [schema]):
            branch = self.resolve(branch)
            if "enum" in branch:
                return set(map(_hashable, branch["enum"]))
            if "const" in branch:
                return {_hashable(branch["const"])}
        return None

    def object_schema(self, schema: Schema) -> Schema | None:
        schema = self.resolve(schema)
        for branch in schema.get("anyOf", [schema]):
            branch = self.resolve(branch)
            if "properties" in branch:
                return branch
        return None

    def item_schema(self, schema: Schema) -> Schema | None:
        schema = self.resolve(schema)
        for branch in schema.get("anyOf", [schema]):
            branch = self.resolve(branch)
            if "items" in branch:
                return dict(branch["items"])
        return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string" if isinstance(value, str) else "object"


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True)


def breaking_changes(released: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """What `candidate` breaks of `released`, one readable line each (empty: compatible)."""
    old, new = Contract(released), Contract(candidate)
    problems: list[str] = []
    for path, old_item in released.get("paths", {}).items():
        new_item = candidate.get("paths", {}).get(path)
        if new_item is None:
            problems.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            where = f"{method.upper()} {path}"
            if method not in new_item:
                problems.append(f"{where}: operation removed")
                continue
            problems += _parameters(old, new, where, old_item[method], new_item[method])
            problems += _responses(old, new, where, old_item[method], new_item[method])
    return list(dict.fromkeys(problems))  # a schema shared by operations is reported once


def _parameters(
    old: Contract, new: Contract, where: str, old_op: dict[str, Any], new_op: dict[str, Any]
) -> list[str]:
    def by_key(op: dict[str, Any], contract: Contract) -> dict[tuple[str, str], Schema]:
        params = [contract.resolve(p) for p in op.get("parameters", [])]
        return {
            (p["in"], p["name"].lower() if p["in"] == "header" else p["name"]): p for p in params
        }

    problems = []
    old_params, new_params = by_key(old_op, old), by_key(new_op, new)
    for key, param in old_params.items():
        name = f"{where}: {key[0]} parameter {key[1]!r}"
        if key not in new_params:
            problems.append(f"{name} removed")
            continue
        now = new_params[key]
        if now.get("required") and not param.get("required"):
            problems.append(f"{name} became required")
        problems += _narrowed(old, new, name, param.get("schema", {}), now.get("schema", {}))
    for key, param in new_params.items():
        if key not in old_params and param.get("required"):
            problems.append(f"{where}: new required {key[0]} parameter {key[1]!r}")
    return problems


NARROWING = {
    "maxLength": lambda old, new: new < old,
    "minLength": lambda old, new: new > old,
    "maximum": lambda old, new: new < old,
    "minimum": lambda old, new: new > old,
    "exclusiveMaximum": lambda old, new: new < old,
    "exclusiveMinimum": lambda old, new: new > old,
    "maxItems": lambda old, new: new < old,
    "minItems": lambda old, new: new > old,
}


def _narrowed(old: Contract, new: Contract, name: str, before: Schema, after: Schema) -> list[str]:
    """What a request value may no longer be."""
    problems = []
    lost = old.types(before) - new.types(after) - {"any"}
    if lost and "any" not in new.types(after):
        problems.append(f"{name} no longer accepts {', '.join(sorted(lost))}")
    problems += _enum_removed(old, new, name, before, after)
    b, a = old.resolve(before), new.resolve(after)
    for bound, tighter in NARROWING.items():
        if bound in a and (bound not in b or tighter(b[bound], a[bound])):
            problems.append(f"{name}: {bound} {b.get(bound, 'unset')} -> {a[bound]}")
    if a.get("pattern") and a.get("pattern") != b.get("pattern"):
        problems.append(f"{name}: pattern {b.get('pattern')!r} -> {a['pattern']!r}")
    old_items, new_items = old.item_schema(before), new.item_schema(after)
    if old_items is not None and new_items is not None:
        problems += _narrowed(old, new, f"{name} items", old_items, new_items)
    return problems


def _enum_removed(
    old: Contract, new: Contract, name: str, before: Schema, after: Schema
) -> list[str]:
    old_values, new_values = old.enum(before), new.enum(after)
    if old_values is None:
        return []
    if new_values is None:
        return []  # the enum was lifted: everything is accepted or returned as before
    removed = sorted(json.loads(v) for v in old_values - new_values)
    return [f"{name}: enum value {v!r} removed" for v in removed]


def _responses(
    old: Contract, new: Contract, where: str, old_op: dict[str, Any], new_op: dict[str, Any]
) -> list[str]:
    problems = []
    for status, response in old_op.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        now = new_op.get("responses", {}).get(status)
        if now is None:
            problems.append(f"{where}: response {status} removed")
            continue
        for media, content in old.resolve(response).get("content", {}).items():
            new_content = new.resolve(now).get("content", {}).get(media)
            if new_content is None:
                problems.append(f"{where}: {status} {media} removed")
                continue
            problems += _fields(
                old,
                new,
                f"{where} {status}",
                content.get("schema", {}),
                new_content.get("schema", {}),
                set(),
            )
    return problems


def _fields(
    old: Contract, new: Contract, name: str, before: Schema, after: Schema, seen: set[str]
) -> list[str]:
    """What a response value no longer is, or may now be that old clients do not expect."""
    key = json.dumps([before.get("$ref"), after.get("$ref")])
    if key in seen:
        return []
    seen = seen | {key}
    if "$ref" in before:  # a named schema: lines name it, wherever it is used
        name = before["$ref"].rsplit("/", 1)[-1]
    problems = []
    old_types, new_types = old.types(before), new.types(after)
    added = new_types - old_types
    if added and "any" not in old_types and not ("integer" in old_types and added == {"integer"}):
        problems.append(f"{name}: may now be {', '.join(sorted(added))}")
    problems += _enum_removed(old, new, name, before, after)
    old_object, new_object = old.object_schema(before), new.object_schema(after)
    if old_object is not None and new_object is not None:
        new_props = new_object.get("properties", {})
        required_now = set(new_object.get("required", []))
        for field, schema in old_object.get("properties", {}).items():
            where = f"{name}.{field}"
            if field not in new_props:
                problems.append(f"{where}: field removed")
                continue
            if field in old_object.get("required", []) and field not in required_now:
                problems.append(f"{where}: no longer required")
            problems += _fields(old, new, where, schema, new_props[field], seen)
    old_items, new_items = old.item_schema(before), new.item_schema(after)
    if old_items is not None and new_items is not None:
        problems += _fields(old, new, f"{name}[]", old_items, new_items, seen)
    return problems


ACKNOWLEDGED = "acknowledged.json"


def unacknowledged(released_path: Path, problems: list[str]) -> list[str]:
    """`problems` less those acknowledged for this released file (`acknowledged.json` beside
    it: file name -> [{"change": the end of a problem line, "reason": why it breaks nobody}]),
    plus a line for each acknowledgement that matches no problem any more."""
    path = released_path.parent / ACKNOWLEDGED
    known = json.loads(path.read_text("utf-8")) if path.exists() else {}
    entries = known.get(released_path.name, [])
    remaining = list(problems)
    for entry in entries:
        if not entry.get("reason"):
            remaining.append(f"{ACKNOWLEDGED}: {entry['change']!r} gives no reason")
        matched = [p for p in remaining if p.endswith(": " + entry["change"])]
        if not matched:
            remaining.append(f"{ACKNOWLEDGED}: {entry['change']!r} matches no change (remove it)")
        remaining = [p for p in remaining if p not in matched]
    return remaining


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m app.compat RELEASED.json CANDIDATE.json", file=sys.stderr)
        return 2
    released, candidate = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv)
    problems = unacknowledged(Path(argv[0]), breaking_changes(released, candidate))
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} breaking change(s) against {argv[0]}", file=sys.stderr)
        return 1
    print(f"compatible with {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
