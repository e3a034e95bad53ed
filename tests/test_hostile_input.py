"""Hostile input over real HTTP: what a public API gets from crawlers and fuzzers.

Property-based tests (hypothesis) against a live uvicorn, on both engines, with the Danish data
set loaded. Requests go over a plain socket, byte for byte as written here, so that dot segments,
invalid percent-encodings and encoded CR/LF reach the server unchanged (httpx would normalise
some of them), and the reply is parsed strictly: a header line with a bare CR or LF, or a header
the input managed to add, fails the test.

The properties: no input gets a 5xx; every error is `application/problem+json` whose `status` is
the response's status; unknown parameters, cursors the API did not issue and values out of range
are 400s; the static folder never serves a file from outside it; no input adds a header.

The bugs these tests found (cursors with a non-ASCII signature or a signed but foreign payload,
an If-Modified-Since with huge numbers, refused CORS preflights in plain text) have tests of
their own with the smallest reproduction. What uvicorn itself refuses before the application
runs (control bytes in headers, request lines past 64 KiB) is not generated.
"""

import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import socket
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.api.collections import COLLECTION_LIST, COMMON_FILTERS
from app.api.main import DOCS_ASSETS, MAX_URL_LENGTH
from app.api.routes import CHANGES_MAX_LIMIT, MAX_VALUES, SINGLE_VALUED
from app.search import MAX_QUERY_LENGTH
from app.settings import PROJECT_ROOT, Settings
from tests.live import live_server

PROBLEM_JSON = "application/problem+json"
REDIRECTS = {301, 302, 303, 307, 308}

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
QUICK = settings(FUZZ, max_examples=50)

LISTS = {
    f"/v1/{c.path}": sorted(
        {f.name for f in [*c.filters, *COMMON_FILTERS]} | {"q", "limit", "cursor"}
    )
    for c in COLLECTION_LIST
}
RECORDS = [f"/v1/{c.path}" for c in COLLECTION_LIST]
ENDPOINTS: dict[str, list[str]] = {
    **LISTS,
    "/v1/search": ["q", "type", "limit", "cursor"],
    "/v1/changes": ["since", "limit"],
    "/v1/export": ["type"],
    "/v1/meta": [],
}
REQUIRED = {"/v1/search": "q=ssp"}  # what an endpoint needs to get as far as its other checks


# --- the server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(loaded_url: str) -> Iterator[str]:
    with live_server(loaded_url) as url:
        yield url


# --- a strict HTTP/1.1 client ----------------------------------------------------------------

TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class Reply:
    host: str
    target: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {self}"
        return values[0] if values else None

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.target[:300]} -> {self.status} {self.headers} {self.body[:500]!r}"


def get(base: str, target: str, headers: Sequence[tuple[str, bytes]] = ()) -> Reply:
    """GET `target` exactly as given (ASCII) on a new connection; parse the reply strictly."""
    return send(base, "GET", target, headers)


def send(base: str, method: str, target: str, headers: Sequence[tuple[str, bytes]]) -> Reply:
    address = urlsplit(base)
    assert address.hostname and address.port
    names = {name.lower() for name, _ in headers}
    lines = [
        f"{method} {target} HTTP/1.1".encode("ascii"),
        f"Host: {address.netloc}".encode(),
        *([] if "accept-encoding" in names else [b"Accept-Encoding: identity"]),
        b"Connection: close",
        *(name.encode() + b": " + value for name, value in headers),
    ]
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return _parse(address.netloc, target, b"".join(chunks))


def _parse(host: str, target: str, data: bytes) -> Reply:
    head, end, body = data.partition(b"\r\n\r\n")
    assert end, f"{target[:300]}: no complete reply (connection dropped?): {data[:300]!r}"
    status_line, *lines = head.split(b"\r\n")
    version, status, _ = status_line.split(b" ", 2)
    assert version == b"HTTP/1.1", status_line
    headers = []
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, f"bare CR/LF in header {line!r}"
        name, colon, value = line.partition(b":")
        assert colon and TOKEN.fullmatch(name), f"malformed header line {line!r}"
        headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    reply = Reply(host, target, int(status), headers, body)
    if reply.header("transfer-encoding") == "chunked":
        body = _dechunk(body)
    elif (length := reply.header("content-length")) is not None:
        assert len(body) == int(length), f"body is not content-length long: {reply}"
    if reply.header("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return Reply(host, target, reply.status, headers, body)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def check(reply: Reply, *allowed: int) -> Reply:
    """Never a 5xx (nor `allowed` missed); errors are problems; no header was injected."""
    assert reply.status < 500, f"server error: {reply}"
    if allowed:
        assert reply.status in allowed, f"expected one of {allowed}: {reply}"
    assert reply.header("x-content-type-options") == "nosniff", f"no security headers: {reply}"
    for name, _ in reply.headers:
        assert "inject" not in name, f"injected header {name}: {reply}"
        assert name != "set-cookie", f"a cookie was set: {reply}"
    location = reply.header("location")
    assert (location is not None) == (reply.status in REDIRECTS), reply
    if location is not None:
        assert urlsplit(location).netloc in ("", reply.host), f"redirect elsewhere: {reply}"
    if reply.status >= 400:
        assert reply.content_type == PROBLEM_JSON, f"error without a problem: {reply}"
        problem = reply.json()
        assert problem["status"] == reply.status, reply
    elif reply.status == 200 and reply.target.startswith("/v1/"):
        media = (reply.content_type or "").split(";")[0]
        assert media in ("application/json", "application/x-ndjson"), reply
        if media == "application/json":
            reply.json()
    return reply


def enc(text: str) -> str:
    """Percent-encode every byte of the UTF-8 text that is not unreserved."""
    return quote(text, safe="")


def url(path: str, *params: str) -> str:
    """`params` are `name=value` pairs, already encoded."""
    return path + ("?" + "&".join(params) if params else "")


# --- strategies ------------------------------------------------------------------------------

# Text a URL can carry as UTF-8: every code point but the surrogates, which have no UTF-8 form;
# they are sent "escaped" instead, as literal text and as their (invalid) CESU-8 bytes.
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
control_text = st.text(
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"]) | st.sampled_from("\x00\r\n\t\x7f"),
    min_size=1,
    max_size=20,
)
SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\\ud800",
    "\\udfff\\ud800",
    "\\x00",
    "%00",
    "%",
    "null",
    "None",
    "undefined",
    "[]",
    "{}",
    "true",
    "-1",
    "0",
    "1e309",
    "NaN",
    "../../etc/passwd",
    "' OR '1'='1",
    "'; DROP TABLE city; --",
    '" OR ""="',
    "1; SELECT pg_sleep(10)",
    "1) UNION SELECT * FROM sqlite_master --",
    "\u202eevil\u202c",
    "\ufeffbom",
    "مدينة",
    "עיר",
    "🏙️👨‍👩‍👧‍👦",
    "\U0010ffff",
]
# Percent-encodings that are not UTF-8: lone surrogates (CESU-8), overlong forms, code points
# past U+10FFFF, stray continuation bytes, truncated sequences, bad escapes.
INVALID_UTF8 = [
    "%ff%fe",
    "%ED%A0%80",
    "%ED%BF%BF%ED%A0%80",
    "%C0%AF",
    "%E0%80%AF",
    "%C0%80",
    "%F4%90%80%80",
    "%F8%88%80%80%80",
    "%80",
    "%BF%BF",
    "%E2%82",
    "%F0%9F%98",
    "%",
    "%zz",
    "%f",
    "%%",
]
encoded_value = st.one_of(
    unicode_text.map(enc),
    control_text.map(enc),
    st.sampled_from(SPECIAL_TEXT).map(enc),
    st.sampled_from(INVALID_UTF8),
    st.binary(min_size=1, max_size=40).map(lambda b: "".join(f"%{x:02X}" for x in b)),
    st.integers(1, 5000).map(lambda n: "a" * n),  # up to the URL limit and past it
    st.integers(1, 1000).map(lambda n: "%C3%A6" * n),
)


def allowed_statuses(target: str, *statuses: int) -> tuple[int, ...]:
    """`statuses`, or 414 once the URL is longer than the server takes."""
    return (*statuses, 414) if len(target) > MAX_URL_LENGTH - 50 else statuses


# --- cursors ---------------------------------------------------------------------------------

CURSOR_PAGES = [
    "/v1/cities?limit=1",
    "/v1/organisations?limit=2",
    "/v1/organisations?limit=2&kind=agency",
    "/v1/practices?limit=2",
    "/v1/practices?limit=2&city=viborg",
    "/v1/themes?limit=1",
    "/v1/practices?limit=1&q=prevention",
    "/v1/contact-points?limit=1",
    "/v1/sources?limit=1",
    "/v1/search?q=prevention&limit=2",
    "/v1/search?q=prevention&limit=2&type=practice",
]


@pytest.fixture(scope="module")
def cursors(base: str) -> dict[str, str]:
    """A real cursor for each of CURSOR_PAGES."""
    found = {}
    for page in CURSOR_PAGES:
        body = check(get(base, page), 200).json()
        assert body["next_cursor"], f"{page} has one page only"
        found[page] = body["next_cursor"]
        check(get(base, f"{page}&cursor={body['next_cursor']}"), 200)
    return found


def assert_cursor_refused(base: str, page: str, cursor: str) -> None:
    target = f"{page}&cursor={enc(cursor)}"
    reply = check(get(base, target), *allowed_statuses(target, 400))
    if reply.status == 400:
        assert "cursor" in reply.json()["detail"], reply


@pytest.mark.parametrize(
    "cursor",
    [".%C2%80", "x.%C3%A9", "{data}.%C3%A9", "{data}.%ff", "{data}.{signature}%C3%A9"],
)
def test_a_cursor_with_a_non_ascii_signature_is_a_400_problem(
    base: str, cursors: dict[str, str], cursor: str
) -> None:
    page = CURSOR_PAGES[0]
    data, signature = cursors[page].split(".")
    check(get(base, f"{page}&cursor={cursor.format(data=data, signature=signature[:-1])}"), 400)


cursor_pages = st.sampled_from(CURSOR_PAGES)
cursor_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
    st.text(string.printable, min_size=400, max_size=700),  # past MAX_CURSOR_LENGTH
    st.from_regex(r"[A-Za-z0-9_-]{0,80}\.[0-9a-f]{24}", fullmatch=True),
)


@FUZZ
@given(page=cursor_pages, cursor=cursor_text)
def test_any_text_as_a_cursor_is_a_400_problem(base: str, page: str, cursor: str) -> None:
    assert_cursor_refused(base, page, cursor)


BASE64URL = string.ascii_letters + string.digits + "-_"
cursor_char = st.sampled_from(BASE64URL + ".=+/%") | st.characters(exclude_categories=["Cs"])


@st.composite
def tamperings(draw: st.DrawFn, cursor: str) -> str:
    text = cursor
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, max(len(text) - 1, 0)))
        match draw(st.sampled_from(["flip", "insert", "delete", "cut", "case", "swap", "repeat"])):
            case "flip":
                text = text[:where] + draw(cursor_char) + text[where + 1 :]
            case "insert":
                text = text[:where] + draw(cursor_char) + text[where:]
            case "delete":
                text = text[:where] + text[where + 1 :]
            case "cut":
                text = text[:where]
            case "case":
                text = text[:where] + text[where : where + 1].swapcase() + text[where + 1 :]
            case "swap":
                text = text[where:] + text[:where]
            case "repeat":
                text = text + text[:where]
    return text


@FUZZ
@given(data=st.data(), page=cursor_pages)
def test_a_tampered_cursor_is_a_400_problem(
    base: str, cursors: dict[str, str], data: st.DataObject, page: str
) -> None:
    real = cursors[page]
    tampered = data.draw(tamperings(real))
    assume(tampered != real)
    assert_cursor_refused(base, page, tampered)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | unicode_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["q", "a", "x"]) | unicode_text, children, max_size=4)
    ),
    max_leaves=8,
)


def b64(payload: Any) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def unb64(data: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


@FUZZ
@given(
    page=cursor_pages,
    payload=json_values,
    signature=st.sampled_from(["real", "none", "random"]),
    random_signature=st.from_regex(r"[0-9a-f]{24}", fullmatch=True),
)
def test_base64_of_other_json_is_a_400_problem(
    base: str,
    cursors: dict[str, str],
    page: str,
    payload: Any,
    signature: str,
    random_signature: str,
) -> None:
    data = b64(payload)
    match signature:
        case "real":
            forged = f"{data}.{cursors[page].split('.')[1]}"
        case "none":
            forged = data
        case _:
            forged = f"{data}.{random_signature}"
    assert_cursor_refused(base, page, forged)


def test_a_cursor_only_works_where_it_was_issued(base: str, cursors: dict[str, str]) -> None:
    for issued_at, cursor in cursors.items():
        for page in CURSOR_PAGES:
            if page != issued_at:  # another collection, or other filters
                assert_cursor_refused(base, page, cursor)


# Cursors signed with the server's secret (whose default is public: app/settings.py) but with a
# payload the server never issues. Whoever holds the secret must still get a 400, not a 500.


def sign(secret: str, payload: Any) -> str:
    data = b64(payload)
    mac = hmac.new(secret.encode(), data.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{data}.{mac}"


def scope_of(cursor: str) -> str:
    return str(unb64(cursor.split(".")[0])["q"])


SIGNED_BUT_NOT_ISSUED = [
    pytest.param("/v1/cities?limit=1", lambda scope: [{"a": "x"}], id="object-without-scope"),
    pytest.param(
        "/v1/cities?limit=1",
        lambda scope: [[1, 2], 5, "x", None, True],
        id="payload-not-an-object",
    ),
    pytest.param(
        "/v1/cities?limit=1",
        lambda scope: [{"q": scope}],
        id="no-position",
    ),
    pytest.param(
        "/v1/search?q=prevention&limit=2",
        lambda scope: [{"q": scope, "a": a} for a in (5, [1], [1, "city", "x", 4])],
        id="search-position-not-a-triple",
    ),
    pytest.param(
        "/v1/search?q=prevention&limit=2",
        lambda scope: [{"q": scope, "a": a} for a in (["x", "city", "y"], [None, "city", "y"])],
        id="search-rank-not-a-number",
    ),
]


@pytest.mark.parametrize(("page", "payloads"), SIGNED_BUT_NOT_ISSUED)
def test_a_signed_cursor_the_api_never_issues_is_a_400_problem(
    base: str, loaded_url: str, cursors: dict[str, str], page: str, payloads: Any
) -> None:
    secret = Settings(database_url=loaded_url).cursor_secret
    real = cursors[page]
    assert sign(secret, unb64(real.split(".")[0])) == real, "the cursor format changed"
    for payload in payloads(scope_of(real)):
        assert_cursor_refused(base, page, sign(secret, payload))


# --- filters and unknown parameters ----------------------------------------------------------


@st.composite
def hostile_queries(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    names = ENDPOINTS[path] or ["x"]
    params = [REQUIRED[path]] if path in REQUIRED else []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(names))
        value = draw(encoded_value)
        times = draw(st.sampled_from([1, 1, 1, 2, 3, 51]))
        # Past about 64 KiB uvicorn itself refuses the request line (a text/plain 400).
        params += [f"{name}={value}"] * (times if len(value) * times < 20_000 else 1)
    return url(path, *params)


@FUZZ
@given(target=hostile_queries())
def test_any_value_of_any_parameter_is_never_a_server_error(base: str, target: str) -> None:
    check(get(base, target), *allowed_statuses(target, 200, 400))


@pytest.mark.slow  # up to a dozen requests per example
@QUICK
@given(
    path=st.sampled_from(sorted(ENDPOINTS)),
    values=st.lists(
        st.sampled_from(["x", "ministry", "city", "2020-01-01", "1"]), min_size=1, max_size=5
    ),
    times=st.integers(1, 120),  # at most 600 values: well within uvicorn's 64 KiB request line
)
def test_many_repetitions_of_a_parameter(
    base: str, path: str, values: list[str], times: int
) -> None:
    for name in ENDPOINTS[path]:
        params = [REQUIRED.get(path, "")] + [f"{name}={v}" for v in values] * times
        target = url(path, *filter(None, params))
        reply = check(get(base, target), *allowed_statuses(target, 200, 400))
        repeated = len(values) * times
        if len(target) <= MAX_URL_LENGTH - 50 and (
            repeated > MAX_VALUES or (repeated > 1 and name in SINGLE_VALUED)
        ):
            assert reply.status == 400, reply


@st.composite
def unknown_parameters(draw: st.DrawFn) -> tuple[str, str, str]:
    path = draw(st.sampled_from([*sorted(ENDPOINTS), *(f"{p}/x" for p in RECORDS)]))
    known = set(ENDPOINTS.get(path, []))
    name = draw(
        st.one_of(
            unicode_text,
            control_text,
            st.sampled_from(["colour", "Q", "q ", "LIMIT", "cursor[]", "kind[]", "a;b", "_"]),
        ).filter(lambda n: n not in known)
    )
    return path, name, draw(st.sampled_from(["", "1", "x", "%00", "%0d%0a"]))


@FUZZ
@given(case=unknown_parameters())
def test_an_unknown_parameter_is_a_400_problem(base: str, case: tuple[str, str, str]) -> None:
    path, name, value = case
    params = [REQUIRED[path]] if path in REQUIRED else []
    reply = check(get(base, url(path, *params, f"{enc(name)}={value}")), 400)
    errors = reply.json().get("errors", [])
    assert {"parameter": name, "in": "query", "message": "unknown parameter"} in errors, reply


# --- search text ------------------------------------------------------------------------------

SEARCH_SYNTAX = [
    '"',
    '""',
    "'",
    "*",
    "ssp*",
    "^",
    "^ssp",
    "-",
    "-ssp",
    "+",
    "NEAR",
    "NEAR(ssp police)",
    "NEAR(a b, 2)",
    "AND",
    "OR",
    "NOT",
    "and",
    "ssp OR police",
    "NOT ssp",
    "name:",
    "name:ssp",
    "body:x",
    "entity_type:city",
    "{name body}:ssp",
    "(",
    ")",
    "(ssp",
    "ssp)",
    "&",
    "|",
    "!",
    "<->",
    "<2>",
    ":*",
    "ssp:*",
    "ssp:A",
    "\\",
    "%",
    "_",
    ";",
    "--",
    "/*",
    "*/",
    "' OR 1=1 --",
    "'; DROP TABLE search_index; --",
    "\x00",
    "\x1b[31m",
    "ssp",
    "police",
    "Landemærket",
    "prévention",
    "🙂",
    "👨‍👩‍👧",
    "مرحبا",
    "שלום",
    "\u202e",
    "\u200f",
    "\ufeff",
    "ß",
    "İ",
    "ﬁ",
    "\u0301",
    "Ⅻ",
    "٣",
]
search_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=220),
    st.lists(st.sampled_from(SEARCH_SYNTAX), min_size=1, max_size=12).map(" ".join),
    st.lists(st.sampled_from(SEARCH_SYNTAX), min_size=1, max_size=12).map("".join),
    st.integers(190, 230).map(lambda n: ("ssp " * n)[:n]),
)


@FUZZ
@given(path=st.sampled_from(["/v1/search", *LISTS]), q=search_text)
def test_search_text_is_plain_text_on_every_endpoint(base: str, path: str, q: str) -> None:
    expected = 200 if 1 <= len(q) <= MAX_QUERY_LENGTH else 400
    reply = check(get(base, url(path, f"q={enc(q)}")), expected)
    if reply.status == 200:
        body = reply.json()
        assert isinstance(body["data"], list)
        if path == "/v1/search":
            assert isinstance(body["query"], str)
            for hit in body["data"]:
                assert hit["href"].startswith("/v1/")


# --- paths -----------------------------------------------------------------------------------

STATIC_DIGESTS = {
    hashlib.sha256(p.read_bytes()).hexdigest() for p in DOCS_ASSETS.rglob("*") if p.is_file()
}
# Files outside the static folder, as paths relative to it ("../../..."), and what they hold.
OUTSIDE_FILES = [
    os.path.relpath(path, DOCS_ASSETS)
    for path in (
        DOCS_ASSETS.parent / "__init__.py",
        PROJECT_ROOT / "app" / "settings.py",
        PROJECT_ROOT / "pyproject.toml",
        "/etc/passwd",
    )
]
OUTSIDE_MARKERS = [b"root:x:0:0", b"class Settings", b"cursor_secret", b"[project]", b"import "]
DOT_DOT = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e."]
SLASH = ["/", "%2f", "%2F", "%5c", "%252f", "//"]


def traversals() -> list[str]:
    targets = []
    for up in DOT_DOT:
        for sep in SLASH:
            for relative in OUTSIDE_FILES:
                parts = [up if part == ".." else enc(part) for part in relative.split(os.sep)]
                targets.append("/static/docs/" + sep.join(parts))
                targets.append("/static/docs/" + sep.join([up, *parts]))  # one more level
    return targets


ODD_PATHS = [
    "/v1/cities/..%2F..%2Fetc%2Fpasswd",
    "/v1/cities/..%2f..%2f..%2f..%2fapp%2fsettings.py",
    "/v1/cities/../../app/settings.py",
    "/v1/cities/%2e%2e/%2e%2e/app/settings.py",
    "/v1/cities/%00",
    "/v1/cities/viborg%00",
    "/v1/cities/%00viborg",
    "/v1/cities/%ff%fe",
    "/v1/cities/%ED%A0%80",
    "/v1/cities/%C0%AE%C0%AE%C0%AF",
    "/v1/cities/%25",
    "/v1/cities/%",
    "/v1/cities/.",
    "/v1/cities/..",
    "/v1/cities/~",
    "/v1/cities/viborg;x=1",
    "/v1/cities/" + "a" * 4000,
    "/v1/cities/" + "a" * 5000,
    "/v1/cities/" + "%C3%A6" * 1000,
    "/v1/contact-points/psp-training-contact-email%00",
    "/v1/%00",
    "/v1/..%2fapp%2fsettings.py",
    "/static/docs/../../app/settings.py",
    "/static/docs/%00",
    "/static/docs/favicon.png%00",
    "/static/docs/favicon.png%00.js",
    "/static/docs/%ff%fe",
    "/static/docs/" + "a" * 300,
    "/static/docs/" + "a/" * 1000,
    "/static/docs//etc/passwd",
    "/static/docs/%2fetc%2fpasswd",
    "/static/docs/....//....//etc/passwd",
    "/static/docs/..;/..;/app/settings.py",
    "/static/docs/favicon.png/../../__init__.py",
    "/static/%2e%2e/app/settings.py",
    "/static/..%2fapp%2fsettings.py",
]


def assert_not_outside_static(reply: Reply) -> None:
    if reply.status == 200:
        assert reply.target.startswith("/static/docs/"), reply
        digest = hashlib.sha256(reply.body).hexdigest()
        assert digest in STATIC_DIGESTS, f"not a file of the static folder: {reply}"
    else:
        for marker in OUTSIDE_MARKERS:
            assert marker not in reply.body, f"{marker!r} served: {reply}"


@pytest.mark.parametrize("target", ODD_PATHS)
def test_odd_paths_are_4xx_and_never_leave_the_static_folder(base: str, target: str) -> None:
    reply = check(get(base, target))
    assert_not_outside_static(reply)
    if not target.startswith("/static/docs/"):
        assert 400 <= reply.status < 500, reply


path_segment = st.one_of(
    st.sampled_from(
        [
            "",
            "..",
            ".",
            "%2e%2e",
            "%2e",
            "..%2f..",
            "..%5c..",
            "%00",
            "favicon.png",
            "swagger-ui.css",
            "static",
            "docs",
            "app",
            "settings.py",
            "etc",
            "passwd",
            "__init__.py",
            "fastapi_offline",
            "..;",
            "%ff",
        ]
    ),
    unicode_text.map(enc),
)


def test_traversals_never_leave_the_static_folder(base: str) -> None:
    for target in traversals():
        reply = check(get(base, target), 404)
        assert_not_outside_static(reply)


@FUZZ
@given(segments=st.lists(path_segment, min_size=1, max_size=14), sep=st.sampled_from(SLASH))
def test_random_static_paths_serve_only_static_files(
    base: str, segments: list[str], sep: str
) -> None:
    target = "/static/docs/" + sep.join(segments)
    assert_not_outside_static(check(get(base, target)))


@FUZZ
@given(
    collection=st.sampled_from(RECORDS),
    id=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
        control_text,
        st.sampled_from(SPECIAL_TEXT[1:]),
        st.integers(300, 4500).map(lambda n: "x" * n),
    ),
)
def test_any_id_is_a_404_problem(base: str, collection: str, id: str) -> None:
    target = f"{collection}/{enc(id)}"
    if "/" in id:  # another path: not found, or a redirect to it without the trailing slash
        check(get(base, target), *allowed_statuses(target, 307, 404))
        return
    reply = check(get(base, target), *allowed_statuses(target, 200, 404))
    if reply.status == 200:
        assert reply.json()["id"] == id, reply


@pytest.mark.slow  # up to a dozen requests per example
@FUZZ
@given(
    where=st.sampled_from(["value", "name", "id"]),
    path=st.sampled_from(sorted(ENDPOINTS)),
    raw=st.one_of(
        st.sampled_from(INVALID_UTF8),
        st.binary(min_size=1, max_size=60).map(lambda b: "".join(f"%{x:02x}" for x in b)),
    ),
)
def test_invalid_utf8_percent_encodings_are_never_a_server_error(
    base: str, where: str, path: str, raw: str
) -> None:
    params = [REQUIRED[path]] if path in REQUIRED else []
    match where:
        case "value":
            for name in ENDPOINTS[path] or ["x"]:
                check(get(base, url(path, *params, f"{name}={raw}")), 200, 400)
        case "name":
            check(get(base, url(path, *params, f"{raw}=1")), 200, 400)
        case _:
            # an encoded "/" makes it another path: a redirect when it ends the path
            redirect = (307,) if "/" in unquote(raw) else ()
            for collection in RECORDS:
                check(get(base, f"{collection}/{raw}"), 200, 404, *redirect)


# --- header injection ------------------------------------------------------------------------

INJECTIONS = [
    "%0d%0aX-Injected:%20yes",
    "%0aX-Injected:%20yes",
    "%0dX-Injected:%20yes",
    "%0d%0a%0d%0a<html>X-Injected</html>",
    "%0D%0ASet-Cookie:%20injected=1",
    "%0d%0aLocation:%20http://evil.example/injected",
    "%E5%98%8A%E5%98%8DX-Injected:%20yes",  # U+560A U+560D: low bytes are LF CR
    "%E2%80%A8X-Injected:%20yes",  # U+2028 LINE SEPARATOR
    "%C2%85X-Injected:%20yes",  # U+0085 NEXT LINE
    "%250d%250aX-Injected:%20yes",  # double-encoded
    "%00%0d%0aX-Injected:%20yes",
    "x%0d%0a%09X-Injected:%20yes",  # an obsolete folded line
]
ALL_INJECTIONS = "".join(INJECTIONS)


def injection_targets() -> list[str]:
    targets = []
    for path, names in ENDPOINTS.items():
        for name in names:
            params = [REQUIRED[path]] if path in REQUIRED and name != "q" else []
            value = ALL_INJECTIONS
            targets.append(url(path, *params, f"{name}={value}"))
        targets.append(url(path, *([REQUIRED[path]] if path in REQUIRED else []), ALL_INJECTIONS))
    for path in RECORDS:
        targets += [f"{path}/{ALL_INJECTIONS}", f"{path}/{ALL_INJECTIONS}/", f"{path}/viborg/"]
    targets += [
        f"/v1/{ALL_INJECTIONS}",
        f"/v1/{ALL_INJECTIONS}/",
        f"/{ALL_INJECTIONS}",
        f"/static/docs/{ALL_INJECTIONS}",
        f"/v1/cities/{ALL_INJECTIONS}?limit={ALL_INJECTIONS}",
    ]
    return targets


def test_crlf_in_every_parameter_and_path_adds_no_header(base: str) -> None:
    for target in injection_targets():
        check(get(base, target))


@FUZZ
@given(
    path=st.sampled_from(sorted(ENDPOINTS)),
    data=st.data(),
    injections=st.lists(st.sampled_from(INJECTIONS), min_size=1, max_size=3),
    prefix=st.sampled_from(["", "viborg", "ssp", "1", "2020-01-01", "ministry", "city"]),
    trailing_slash=st.booleans(),
)
def test_crlf_mixed_into_valid_values_adds_no_header(
    base: str,
    path: str,
    data: st.DataObject,
    injections: list[str],
    prefix: str,
    trailing_slash: bool,
) -> None:
    names = ENDPOINTS[path] or ["x"]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    params = [REQUIRED[path]] if path in REQUIRED else []
    params += [f"{name}={prefix}{''.join(injections)}" for name in chosen]
    target = url(path + "/" * trailing_slash, *params)
    check(get(base, target))


REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@FUZZ
@given(
    # Other control bytes are refused by uvicorn before the application sees the request.
    value=st.lists(st.sampled_from([9, *range(0x20, 0x7F), *range(0x80, 0x100)]), max_size=100)
    .map(bytes)
    .map(lambda b: b.strip(b" \t"))
)
def test_the_request_id_is_echoed_only_when_it_is_a_plain_token(base: str, value: bytes) -> None:
    reply = check(get(base, "/v1/meta", headers=[("X-Request-ID", value)]), 200)
    echoed = reply.header("x-request-id")
    assert echoed is not None and REQUEST_ID.fullmatch(echoed), reply
    if REQUEST_ID.fullmatch(value.decode("latin-1")):
        assert echoed == value.decode("latin-1")
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), reply


# --- huge and out-of-range values ------------------------------------------------------------

HUGE = str(10**30)
OUT_OF_RANGE = [
    *(url(path, f"limit={HUGE}") for path in LISTS),
    f"/v1/search?q=ssp&limit={HUGE}",
    f"/v1/changes?limit={HUGE}",
    f"/v1/changes?since={HUGE}",
    f"/v1/changes?since=-{HUGE}",
    "/v1/changes?since=1e30",
    f"/v1/changes?since={'9' * 4000}",
    "/v1/cities?limit=-1",
    "/v1/cities?limit=1e3",
    "/v1/cities?limit=0x10",
    "/v1/cities?updated_since=10000-01-01",
    "/v1/cities?updated_since=99999-12-31T00:00:00Z",
    "/v1/cities?updated_since=0000-01-01",
    "/v1/cities?updated_since=0000-12-31T23:59:59%2B23:59",
    "/v1/cities?updated_since=-0001-01-01",
    "/v1/cities?updated_since=%2B10000-01-01",
    "/v1/cities?updated_since=1e30",
    f"/v1/cities?updated_since={HUGE}",
    f"/v1/cities?updated_since=-{HUGE}",
    "/v1/cities?updated_since=9999-12-32",
    "/v1/cities?updated_since=2020-13-01",
    "/v1/cities?updated_since=2020-01-01T25:00:00",
    "/v1/cities?updated_since=2020-01-01T00:00:00%2B99:00",
]


@pytest.mark.parametrize("target", OUT_OF_RANGE)
def test_huge_and_out_of_range_values_are_400_problems(base: str, target: str) -> None:
    reply = check(get(base, target), 400)
    assert reply.json()["errors"], reply


@QUICK
@given(
    year=st.integers(max_value=0) | st.integers(min_value=10000),
    month=st.integers(1, 12),
    time=st.sampled_from(["", "T00:00:00", "T23:59:59Z", "T12:00:00%2B23:59", "T00:00:00-23:59"]),
)
def test_an_updated_since_outside_years_1_to_9999_is_a_400_problem(
    base: str, year: int, month: int, time: str
) -> None:
    stamp = f"{year:04d}-{month:02d}-01{time}"
    check(get(base, url(f"/v1/{COLLECTION_LIST[0].path}", f"updated_since={stamp}")), 400)


@QUICK
@given(
    stamp=st.datetimes().map(lambda d: d.isoformat()),
    zone=st.sampled_from(["", "Z", "+00:00", "+23:59", "-23:59", "+14:00", "-12:00"]),
    path=st.sampled_from(sorted(LISTS)),
)
def test_any_updated_since_within_years_1_to_9999_is_a_200(
    base: str, stamp: str, zone: str, path: str
) -> None:
    check(get(base, url(path, f"updated_since={enc(stamp + zone)}")), 200)


@QUICK
@given(since=st.integers(), limit=st.integers())
def test_any_integer_since_and_limit_on_the_change_feed(base: str, since: int, limit: int) -> None:
    reply = check(get(base, url("/v1/changes", f"since={since}", f"limit={limit}")), 200, 400)
    if not 1 <= limit <= CHANGES_MAX_LIMIT or since < 0:
        assert reply.status == 400, reply


# --- hostile request headers -----------------------------------------------------------------

HUGE_NUMBER = 10**20  # numbers far past any calendar: parsed and ignored, never a 5xx
http_dates = st.builds(
    "{}, {} {} {} {}:{}:{} {}".format,
    st.sampled_from(["Mon", "Sun", "Xyz", ""]),
    st.integers(0, HUGE_NUMBER),
    st.sampled_from(["Jan", "Dec", "Foo", ""]),
    st.integers(0, HUGE_NUMBER),
    st.integers(0, HUGE_NUMBER),
    st.integers(0, HUGE_NUMBER),
    st.integers(0, HUGE_NUMBER),
    st.sampled_from(["GMT", "UTC", "+0000", "-2359", f"+{HUGE_NUMBER}", "EST", ""]),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)


@FUZZ
@given(
    name=st.sampled_from(["If-Modified-Since", "If-None-Match", "Accept", "Accept-Encoding"]),
    value=st.one_of(http_dates, header_text),
    path=st.sampled_from(["/v1/cities", "/v1/cities/viborg", "/v1/search?q=ssp", "/v1/meta"]),
)
def test_hostile_conditional_and_negotiation_headers(
    base: str, name: str, value: str, path: str
) -> None:
    check(get(base, path, headers=[(name, value.strip().encode())]), 200, 304, 406)


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 2147483648 00:00:00 GMT",
        "Mon, 99999999999999999999 Jan 2020 00:00:00 GMT",
        "Mon, 01 Jan 2020 99999999999999999999:00:00 GMT",
        "Mon, 01 Jan 2020 00:00:00 +99999999999999999999",
    ],
)
def test_an_if_modified_since_with_huge_numbers_is_ignored(base: str, value: str) -> None:
    check(get(base, "/v1/cities", headers=[("If-Modified-Since", value.encode())]), 200)


def test_a_refused_cors_preflight_is_a_problem(base: str) -> None:
    preflight = [("Origin", b"https://example.org"), ("Access-Control-Request-Method", b"DELETE")]
    reply = check(send(base, "OPTIONS", "/v1/cities", preflight), 400)
    assert "read-only" in reply.json()["detail"]


def test_a_cors_preflight_for_reading_allows_any_request_header(base: str) -> None:
    preflight = [
        ("Origin", b"https://example.org"),
        ("Access-Control-Request-Method", b"GET"),
        ("Access-Control-Request-Headers", b"X-A"),
    ]
    reply = send(base, "OPTIONS", "/v1/cities", preflight)
    assert reply.status == 200, reply
    assert dict(reply.headers)["access-control-allow-origin"] == "*"
