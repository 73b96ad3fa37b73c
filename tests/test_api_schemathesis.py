"""schemathesis against the served /openapi.json: generated requests (valid and invalid) never get
a server error, and every response's status, content type and body conform to the document.

Two callers for every generated request: an admin key, and a search key that names a viewer (as
the platform's backend does).
The time budget is generous, so a 504 means a query the engine could not answer: it fails the test
instead of passing as a documented status."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode, checks

from api import create_app
from firehose.events import validate
from tests.indexed import indexed
from tests.test_api_endpoints import ADMIN, KEYS, MEDIA, SEARCH
from tests.test_typeahead_behaviour import HISTORY

GENEROUS_MS = 60_000
VIEWER = "1"


def not_a_timeout(ctx, response, case) -> None:
    assert response.status_code != 504, f"timed out within {GENEROUS_MS} ms: {case.method} {case.path}"


CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.negative_data_rejection, not_a_timeout]


@pytest.fixture(scope="module")
def api_schema():
    with indexed([validate(e) for e in HISTORY + MEDIA]) as (index, _):
        loaded = schemathesis.openapi.from_asgi("/openapi.json", create_app(index=index, keys=KEYS, timeout_ms=GENEROUS_MS))
        # the key is sent with every request (an invalid one is tested in test_api_endpoints.py)
        loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                        with_security_parameters=False)
        yield loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=300, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document_for_an_admin_and_a_search_key_with_a_viewer(case):
    """Each generated request goes out twice: as an admin, then with a search key and the viewer
    added (where the operation takes one); generation, not the calls, is what costs here."""
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS)
    if case.operation.get_parameter("viewer", "query") is not None:
        case.query = {**(case.query or {}), "viewer": VIEWER}
    if isinstance(case.body, dict) and case.path == "/v1/search":
        case.body = {**case.body, "viewer": VIEWER}
    case.call_and_validate(headers={"Authorization": f"Bearer {SEARCH}"}, checks=CHECKS)
