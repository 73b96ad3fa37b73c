"""schemathesis against the served /openapi.json: generated requests (valid and invalid) never get
a server error, and every response's status, content type and body conform to the document."""

from __future__ import annotations

import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, settings
from schemathesis import checks

from api import create_app
from firehose.events import validate
from tests.test_api_endpoints import ADMIN, KEYS, MEDIA
from tests.test_typeahead_behaviour import HISTORY
from tests.indexed import indexed

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.negative_data_rejection]

_platform = indexed([validate(e) for e in HISTORY + MEDIA])
_index, _ = _platform.__enter__()
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(index=_index, keys=KEYS))
# the key is sent with every request (an invalid one is tested in test_api_endpoints.py)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], with_security_parameters=False)


def teardown_module() -> None:
    _platform.__exit__(None, None, None)


@schema.parametrize()
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS)
