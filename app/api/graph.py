"""The prevention model as a graph: `/v1/graph` (JSON) and `/v1/graph.svg` (drawn by Graphviz).

Nodes are the organisations, cooperations, practices and cities; edges are the relationships
the records own, each read as a sentence "source <type> target" ("pet part_of
ministry-of-justice", "vink-unit leads vink"). Every edge type is derived from one v1 field
(RELATIONS below says which), so the graph says nothing a record does not say.

Node ids are qualified by type ("organisation:pet"): record ids are unique within a collection
only.
"""

import logging
import re
import subprocess
import textwrap
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from app import i18n
from app.api.records import V1, href, table

logger = logging.getLogger("app.api")

MAX_NODES = 2000  # beyond it the answer is a 400 asking for a narrower graph
MAX_DRAWN_NODES = 400  # Graphviz's layout is superlinear: bigger drawings are refused
MAX_DEPTH = 3
RENDER_TIMEOUT = 10.0  # seconds `dot` may take for one drawing
DOT = "dot"


class NodeType(StrEnum):
    """The records drawn as nodes."""

    ORGANISATION = "organisation"
    COOPERATION = "cooperation"
    PRACTICE = "practice"
    CITY = "city"


class EdgeType(StrEnum):
    """How two nodes relate; an edge reads "source <type> target"."""

    PART_OF = "part_of"
    MEMBER_OF = "member_of"
    INSTANCE_OF = "instance_of"
    LOCATED_IN = "located_in"
    RUNS_IN = "runs_in"
    LEADS = "leads"
    COORDINATES = "coordinates"
    PARTNERS = "partners"
    FUNDS = "funds"
    SUPPORTS = "supports"
    DELIVERS = "delivers"
    TARGETS = "targets"
    INCLUDES = "includes"
    FOLLOWS = "follows"
    SUPPORTED_BY = "supported_by"
    LED_BY = "led_by"
    ANSWERABLE_TO = "answerable_to"
    COOPERATES_WITH = "cooperates_with"
    RECOGNISED_BY = "recognised_by"


@dataclass(frozen=True)
class Relation:
    """Where the edges of one type come from: rows of `table`, from `source` to `target`
    (each a node type and a column), keeping `role` (a column) on the edge."""

    edge: EdgeType
    table: str
    source: tuple[NodeType, str]
    target: tuple[NodeType, str]
    v1_field: str  # the v1 field that holds the relationship, for the documentation
    role: str | None = None
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> values kept

    def select(self) -> sa.Select[Any]:
        t = table(self.table)
        source, target = t.c[self.source[1]], t.c[self.target[1]]
        role = t.c[self.role] if self.role else sa.null()
        query = sa.select(source.label("source"), target.label("target"), role.label("role")).where(
            source.is_not(None), target.is_not(None)
        )
        for column, values in self.only.items():
            query = query.where(t.c[column].in_(values))
        return query


ORG, COOP, PRACTICE, CITY = (
    NodeType.ORGANISATION,
    NodeType.COOPERATION,
    NodeType.PRACTICE,
    NodeType.CITY,
)
_ORG_RELATION = {
    EdgeType.SUPPORTED_BY: "supported by",
    EdgeType.LED_BY: "led by",
    EdgeType.ANSWERABLE_TO: "answerable to",
    EdgeType.COOPERATES_WITH: "cooperates with",
    EdgeType.RECOGNISED_BY: "recognised by",
}
_PRACTICE_ROLES = {
    EdgeType.LEADS: ("lead",),
    EdgeType.COORDINATES: ("coordinator",),
    EdgeType.PARTNERS: ("partner", "external_partner"),
    EdgeType.FUNDS: ("funder",),
    EdgeType.SUPPORTS: ("supporter",),
}

RELATIONS: list[Relation] = [
    Relation(
        EdgeType.PART_OF, "organisation", (ORG, "id"), (ORG, "parent_id"), "organisation.parent"
    ),
    Relation(
        EdgeType.PART_OF, "practice", (PRACTICE, "id"), (PRACTICE, "parent_id"), "practice.parent"
    ),
    Relation(
        EdgeType.MEMBER_OF,
        "cooperation_member",
        (ORG, "organisation_id"),
        (COOP, "cooperation_id"),
        "cooperation.members[].organisation",
        role="role",
    ),
    Relation(
        EdgeType.MEMBER_OF,
        "cooperation_member",
        (COOP, "member_cooperation_id"),
        (COOP, "cooperation_id"),
        "cooperation.members[].cooperation",
        role="role",
    ),
    Relation(
        EdgeType.INSTANCE_OF, "cooperation", (COOP, "id"), (COOP, "model_id"), "cooperation.model"
    ),
    Relation(
        EdgeType.LOCATED_IN, "organisation", (ORG, "id"), (CITY, "city_id"), "organisation.city"
    ),
    Relation(
        EdgeType.LOCATED_IN, "cooperation", (COOP, "id"), (CITY, "city_id"), "cooperation.city"
    ),
    Relation(
        EdgeType.RUNS_IN,
        "practice_city",
        (PRACTICE, "practice_id"),
        (CITY, "city_id"),
        "practice.cities",
    ),
    *[
        Relation(
            edge,
            "practice_organisation",
            (ORG, "organisation_id"),
            (PRACTICE, "practice_id"),
            "practice.organisations[].role: " + ", ".join(roles),
            role="role",
            only={"role": roles},
        )
        for edge, roles in _PRACTICE_ROLES.items()
    ],
    Relation(
        EdgeType.DELIVERS,
        "practice_cooperation",
        (COOP, "cooperation_id"),
        (PRACTICE, "practice_id"),
        "practice.cooperations[].role: delivered_by",
        role="role",
        only={"role": ("delivered_by",)},
    ),
    *[
        Relation(
            edge,
            "practice_cooperation",
            (PRACTICE, "practice_id"),
            (COOP, "cooperation_id"),
            f"practice.cooperations[].role: {role}",
            role="role",
            only={"role": (role,)},
        )
        for edge, role in ((EdgeType.TARGETS, "target"), (EdgeType.INCLUDES, "includes"))
    ],
    Relation(
        EdgeType.FOLLOWS,
        "practice",
        (PRACTICE, "id"),
        (PRACTICE, "predecessor_id"),
        "practice.predecessor",
    ),
    *[
        Relation(
            edge,
            "organisation_relation",
            (ORG, "organisation_id"),
            (ORG, "related_organisation_id"),
            f"organisation.relations[].role: {edge.value}",
            role="kind",
            only={"kind": (edge.value,)},
        )
        for edge in _ORG_RELATION
    ],
]

EDGE_DESCRIPTIONS: dict[EdgeType, str] = {
    EdgeType.PART_OF: "an organisation is part of its parent organisation; a practice is part of "
    "its parent practice",
    EdgeType.MEMBER_OF: "an organisation or a cooperation is a member of a cooperation (`role`: "
    "member, supporter, consulted)",
    EdgeType.INSTANCE_OF: "a local cooperation is an instance of a national model (SSP Viborg of "
    "SSP)",
    EdgeType.LOCATED_IN: "an organisation or a cooperation belongs to a city",
    EdgeType.RUNS_IN: "a practice runs in a city",
    EdgeType.LEADS: "an organisation leads a practice",
    EdgeType.COORDINATES: "an organisation coordinates a practice",
    EdgeType.PARTNERS: "an organisation is a partner in a practice (`role`: partner, "
    "external_partner)",
    EdgeType.FUNDS: "an organisation funds a practice",
    EdgeType.SUPPORTS: "an organisation supports a practice",
    EdgeType.DELIVERS: "a cooperation delivers a practice",
    EdgeType.TARGETS: "a practice is aimed at a cooperation's staff",
    EdgeType.INCLUDES: "a practice (an agenda, a policy) includes a cooperation",
    EdgeType.FOLLOWS: "a practice follows its predecessor",
    **{
        edge: f"an organisation is {words} another (an organisation's typed relation)"
        for edge, words in _ORG_RELATION.items()
    },
}

NODE_TABLES = {ORG: "organisation", COOP: "cooperation", PRACTICE: "practice", CITY: "city"}
NodeKey = tuple[NodeType, str]


def node_id(node_type: str, record_id: str) -> str:
    return f"{node_type}:{record_id}"


@dataclass
class Query:
    """What a client asked for: which nodes and edges, around which records, how far."""

    types: set[NodeType] = field(default_factory=lambda: set(NodeType))
    edges: set[EdgeType] = field(default_factory=lambda: set(EdgeType))
    focus: set[NodeKey] = field(default_factory=set)
    depth: int = 1
    countries: set[str] = field(default_factory=set)


def _storable(ids: Iterable[str]) -> list[str]:
    # PostgreSQL refuses NUL in a query, and no id holds one.
    return sorted(i for i in ids if "\x00" not in i)


def _edges(
    conn: sa.Connection, relations: list[Relation], touching: set[NodeKey] | None
) -> set[tuple[NodeKey, NodeKey, EdgeType, str | None]]:
    """Edges of `relations`; only those with an end in `touching`, when it is given."""
    out = set()
    by_type: dict[NodeType, list[str]] = defaultdict(list)
    for node_type, record_id in touching or ():
        by_type[node_type].append(record_id)
    for relation in relations:
        query = relation.select()
        if touching is not None:
            t = table(relation.table)
            sources = _storable(by_type[relation.source[0]])
            targets = _storable(by_type[relation.target[0]])
            if not sources and not targets:
                continue
            query = query.where(
                sa.or_(t.c[relation.source[1]].in_(sources), t.c[relation.target[1]].in_(targets))
            )
        for row in conn.execute(query):
            out.add(
                (
                    (relation.source[0], row.source),
                    (relation.target[0], row.target),
                    relation.edge,
                    row.role,
                )
            )
    return out


class GraphTooBig(Exception):
    """The graph asked for is bigger than one answer may be; the message says how to narrow it."""


class DrawingFailed(Exception):
    """Graphviz is missing, too slow or failed."""


def _too_big(count: int) -> GraphTooBig:
    return GraphTooBig(
        f"The graph would have {count} nodes or more (at most {MAX_NODES} are served). Narrow "
        "it: ask for the neighbourhood of a record (organisation=, cooperation=, practice=, "
        "city=), fewer node types (type=) or a country.",
    )


def build_graph(conn: sa.Connection, query: Query, api: str = V1) -> dict[str, Any]:
    """The nodes and edges `query` asks for, in a stable order; nodes link to their records
    under API version `api`."""
    relations = [r for r in RELATIONS if r.edge in query.edges]
    if query.focus:
        # The neighbourhood: every node within `depth` edges of a focus (in either direction),
        # then every edge among those nodes.
        seen = set(query.focus)
        frontier = set(query.focus)
        found: set[tuple[NodeKey, NodeKey, EdgeType, str | None]] = set()
        for _ in range(query.depth):
            edges = _edges(conn, relations, frontier)
            found |= edges
            frontier = {end for e in edges for end in e[:2]} - seen
            seen |= frontier
            if len(seen) > MAX_NODES:
                raise _too_big(len(seen))
            if not frontier:
                break
        found |= _edges(conn, relations, frontier)
        candidates: set[NodeKey] | None = seen
        edges = {e for e in found if e[0] in seen and e[1] in seen}
    else:
        counted = 0
        for node_type in query.types:
            t = table(NODE_TABLES[node_type])
            count = sa.select(sa.func.count()).select_from(t)
            if query.countries:
                count = count.where(t.c.country_id.in_(_storable(query.countries)))
            counted += conn.execute(count).scalar_one()
        if counted > MAX_NODES:
            raise _too_big(counted)
        candidates = None
        relations = [
            r for r in relations if r.source[0] in query.types and r.target[0] in query.types
        ]
        edges = _edges(conn, relations, None)
    nodes = _nodes(conn, query, candidates, api)
    kept = {(n["type"], n["record_id"]) for n in nodes}
    edge_list = [
        {
            "source": node_id(*source),
            "target": node_id(*target),
            "type": edge.value,
            "role": role,
        }
        for source, target, edge, role in edges
        if source in kept and target in kept
    ]
    edge_list.sort(key=lambda e: (e["type"], e["source"], e["target"], e["role"] or ""))
    return {"nodes": nodes, "edges": edge_list}


def _nodes(
    conn: sa.Connection, query: Query, candidates: set[NodeKey] | None, api: str
) -> list[dict[str, Any]]:
    """The published nodes of the asked-for types: every one, or those among `candidates`."""
    nodes = []
    for node_type in NodeType:
        if node_type not in query.types:
            continue
        t = table(NODE_TABLES[node_type])
        select = sa.select(
            t.c.id,
            t.c.name,
            (t.c.acronym if "acronym" in t.c else sa.null()).label("acronym"),
            (t.c.kind if "kind" in t.c else sa.null()).label("kind"),
        ).order_by(t.c.id)
        if query.countries:
            select = select.where(t.c.country_id.in_(_storable(query.countries)))
        if candidates is not None:
            ids = _storable(i for kind, i in candidates if kind == node_type)
            if not ids:
                continue
            select = select.where(t.c.id.in_(ids))
        for row in conn.execute(select):
            nodes.append(
                {
                    "id": node_id(node_type, row.id),
                    "type": node_type.value,
                    "record_id": row.id,
                    # A drawing label is one text: the one v1 shows (English first).
                    "label": i18n.primary(row.name)[1] or row.id,
                    "acronym": row.acronym,
                    "kind": row.kind,
                    "href": href(node_type.value, row.id, api),
                }
            )
    return nodes


# --- drawing ------------------------------------------------------------------------------

NODE_STYLE = {
    "organisation": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6", color="#2f6ca3"',
    "cooperation": 'shape=hexagon, style=filled, fillcolor="#fde8c8", color="#b8741a"',
    "practice": 'shape=note, style=filled, fillcolor="#e3f1df", color="#3f7f34"',
    "city": 'shape=house, style=filled, fillcolor="#f6d9dc", color="#a33b48"',
}
# Edge styles by family: structure blue, cooperation orange, place red, practice roles green,
# relations between organisations grey. (colour, line style, line width)
_STRUCTURE, _COOPERATION, _PLACE, _ROLE, _RELATION = (
    "#2f6ca3",
    "#b8741a",
    "#a33b48",
    "#3f7f34",
    "#6b6b6b",
)
EDGE_STYLE: dict[str, tuple[str, str, float]] = {
    "part_of": (_STRUCTURE, "solid", 1.6),
    "member_of": (_COOPERATION, "dashed", 1.0),
    "instance_of": (_COOPERATION, "dotted", 1.4),
    "located_in": (_PLACE, "dotted", 1.0),
    "runs_in": (_PLACE, "solid", 1.0),
    "leads": (_ROLE, "solid", 1.6),
    "coordinates": (_ROLE, "solid", 1.0),
    "partners": (_ROLE, "dashed", 1.0),
    "funds": (_ROLE, "dotted", 1.4),
    "supports": (_ROLE, "dotted", 1.0),
    "delivers": (_COOPERATION, "solid", 1.0),
    "targets": (_COOPERATION, "dotted", 1.0),
    "includes": (_COOPERATION, "solid", 1.6),
    "follows": (_STRUCTURE, "dotted", 1.0),
    **{edge.value: (_RELATION, "dashed", 1.0) for edge in _ORG_RELATION},
}
_LINE = {"solid": "━━━", "dashed": "━ ━", "dotted": "····"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def dot_string(text: str) -> str:
    """`text` as a quoted DOT string that Graphviz shows literally: backslashes (DOT's escape
    sequences, \\N, \\G, \\l), quotes and ampersands (entities) are escaped, and characters XML
    cannot carry are replaced, so any label makes a valid SVG."""
    text = _CONTROL.sub("\ufffd", text).replace("\n", " ").replace("\r", " ")
    # Graphviz reads "&amp;" in a label as an entity: an ampersand is written as one.
    escaped = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _caption(node: dict[str, Any]) -> str:
    name = node["label"]
    if node["acronym"] and node["acronym"] not in name:
        name = f"{name} ({node['acronym']})"
    return "\n".join(textwrap.wrap(name, 24)) or node["record_id"]


def to_dot(graph: dict[str, Any], title: str = "The Danish prevention model") -> str:
    """The graph in Graphviz's DOT language; every text from the data passes `dot_string`."""
    lines = [
        "digraph model {",
        f"  graph [rankdir=LR, ranksep=0.9, nodesep=0.18, fontname=Helvetica, fontsize=20, "
        f"labelloc=t, label={dot_string(title)}, tooltip={dot_string(title)}];",
        '  node [fontname=Helvetica, fontsize=10, margin="0.1,0.04"];',
        "  edge [fontname=Helvetica, fontsize=8, arrowsize=0.6];",
    ]
    numbers: dict[str, str] = {}
    for number, node in enumerate(graph["nodes"]):
        numbers[node["id"]] = f"n{number}"
        # A caption's line breaks are DOT's own "\n", put in after escaping the text.
        caption = "\\n".join(dot_string(line)[1:-1] for line in _caption(node).split("\n"))
        lines.append(
            f"  n{number} [id={dot_string(node['id'])}, class={dot_string(node['type'])}, "
            f'label="{caption}", tooltip={dot_string(node["label"])}, '
            f"URL={dot_string(node['href'])}, {NODE_STYLE[node['type']]}];"
        )
    for number, edge in enumerate(graph["edges"]):
        colour, line, width = EDGE_STYLE[edge["type"]]
        text = edge["type"].replace("_", " ")
        lines.append(
            f"  {numbers[edge['source']]} -> {numbers[edge['target']]} "
            f"[id={dot_string(f'edge{number}')}, class={dot_string(edge['type'])}, "
            f"tooltip={dot_string(' '.join((edge['source'], text, edge['target'])))}, "
            f'color="{colour}", style={line}, penwidth={width}];'
        )
    lines += _legend(sorted({e["type"] for e in graph["edges"]}, key=list(EDGE_STYLE).index))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(edge_types: list[str]) -> list[str]:
    """A key to the edge styles in use (fixed text: no data reaches this HTML-like label)."""
    if not edge_types:
        return []
    rows = "".join(
        f'<tr><td align="left"><font color="{EDGE_STYLE[t][0]}">{_LINE[EDGE_STYLE[t][1]]}'
        f"</font> {t.replace('_', ' ')}</td></tr>"
        for t in edge_types
    )
    return [
        '  legend [id="legend", shape=box, style="rounded", color="#bbbbbb", fontsize=9, '
        f'label=<<table border="0" cellspacing="1"><tr><td><b>edges</b></td></tr>{rows}</table>>];'
    ]


@lru_cache(maxsize=16)
def _render(dot_source: str) -> bytes:
    try:
        result = subprocess.run(
            [DOT, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise DrawingFailed("Graphviz (`dot`) is not installed on this server.") from None
    except subprocess.TimeoutExpired:
        raise DrawingFailed(
            f"Drawing the graph took longer than {RENDER_TIMEOUT:g} s; ask for a smaller one."
        ) from None
    if result.returncode != 0:
        logger.error("dot failed (%s): %s", result.returncode, result.stderr[-2000:])
        raise DrawingFailed("Graphviz failed to draw the graph; the error is logged.")
    return result.stdout


def render_svg(graph: dict[str, Any]) -> bytes:
    """The graph drawn by Graphviz as SVG (repeated drawings of one graph are served from
    memory: a few recent ones are kept)."""
    if len(graph["nodes"]) > MAX_DRAWN_NODES:
        raise GraphTooBig(
            f"The drawing would have {len(graph['nodes'])} nodes; at most {MAX_DRAWN_NODES} are "
            "drawn. Narrow it (a neighbourhood, type=, edge=) or use /v1/graph.",
        )
    return _render(to_dot(graph))
