"""Records answered from their stored documents on the event loop (app/api/stored.py) are the
endpoint's answers, byte for byte, headers included; whatever that layer does not serve, the
endpoint still answers."""

from collections.abc import Iterator

import httpx
import pytest

from app.api.main import create_app
from app.api.stored import StoredRecords
from app.settings import Settings
from tests.live import client, live_app
from tests.test_response_cache import HOST, _answer, _requests

RECORDS = [
    "/v1/cities/viborg",
    "/v1/practices/vink",
    "/v1/organisations/danish-prison-and-probation-service",
    "/v1/contact-points/mhtconsult-email",
    "/v2/countries/dk",
    "/v2/organisations/danish-prison-and-probation-service",
    "/v2/practices/vink",
    "/v2/practices/vink?lang=fr",
    "/v2/practices/vink?lang=*",
    "/v2/cities/viborg?lang=da",
    "/v2/contact-points/mhtconsult-email",
]
"""Requests the layer answers (the plain form of a record)."""

PERSONAL = [
    "/v1/contact-points/psp-training-contact-email",
    "/v2/contact-points/psp-training-contact-email?lang=en",
]
"""Records that identify a person: answered by the layer only where they are published."""

PASSED_ON = [
    "/v1/cities/nowhere",
    "/v2/cities/nowhere",
    "/v1/cities/viborg%00",
    "/v1/cities/viborg/",
    "/v1/cities/viborg?lang=fr",  # v1 takes no `lang`
    "/v2/cities/viborg?lang=FR",
    "/v2/cities/viborg?lang=fr&lang=da",
    "/v2/cities/viborg?expand=country",
    "/v2/cities/viborg?unknown=1",
    "/v3/cities/viborg",
    "/v1/towns/viborg",
    "/v2/cities/viborg/evidence",
]
"""Requests it leaves to the endpoint (which answers them as before)."""


def _stored_layer(app: object) -> StoredRecords:
    layer = app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, StoredRecords):
        layer = layer.app
    return layer


@pytest.fixture(params=[False, True], ids=["personal-withheld", "personal-published"])
def servers(
    loaded_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[httpx.Client, httpx.Client, StoredRecords, bool]]:
    """(from stored documents, from the endpoint) clients of two servers on one database, with
    no response cache (each answer is made afresh), the first one's layer, and whether they
    publish personal contact points."""
    settings = Settings(
        database_url=loaded_url,
        response_cache_mb=0,
        export_cache_dir="",
        publish_personal_contacts=request.param,
    )
    stored_app, endpoint_app = create_app(settings), create_app(settings)
    with (
        live_app(stored_app) as stored_base,
        live_app(endpoint_app) as endpoint_base,
        client(stored_base) as stored,
        client(endpoint_base) as endpoint,
    ):
        _stored_layer(endpoint_app).enabled = False
        yield stored, endpoint, _stored_layer(stored_app), request.param


def test_stored_answers_are_the_endpoints(
    servers: tuple[httpx.Client, httpx.Client, StoredRecords, bool],
) -> None:
    stored, endpoint, layer, personal = servers
    answered = [*RECORDS, *PERSONAL] if personal else RECORDS
    passed_on = PASSED_ON if personal else [*PERSONAL, *PASSED_ON]
    for url in answered:
        before = layer.answered
        assert stored.get(url).status_code == 200
        assert layer.answered == before + 1, url
    for url in passed_on:
        before = layer.answered
        stored.get(url)
        assert layer.answered == before, url
    for url in [*RECORDS, *PERSONAL, *PASSED_ON]:
        variants = (
            _requests(endpoint, url)
            if endpoint.get(url, headers={"Host": HOST}).status_code == 200
            else [("GET", {}), ("HEAD", {}), ("GET", {"Accept-Language": "fr"})]
        )
        for method, variant in variants:
            headers = {"Host": HOST, **variant}
            expected = _answer(endpoint.request(method, url, headers=headers))
            assert _answer(stored.request(method, url, headers=headers)) == expected, (
                url,
                method,
                headers,
            )


def test_requests_it_does_not_serve_reach_the_endpoint(
    servers: tuple[httpx.Client, httpx.Client, StoredRecords, bool],
) -> None:
    stored, _, layer, _ = servers
    for url in ["/v2/cities/viborg?expand=country", "/v1/cities/viborg?limit=1", "/v1/meta"]:
        stored.get(url)
    assert layer.answered == 0
    assert stored.get("/v1/cities/viborg?limit=1").status_code == 400  # the endpoint's check
    assert stored.get("/v2/cities/viborg?expand=country").json()["country"]["record"]["id"] == "dk"
