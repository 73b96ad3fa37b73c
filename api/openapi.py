"""The OpenAPI 3.1 document served at /openapi.json, generated from api/models.py: request bodies and
query parameters from the models that validate them, responses from the response TypedDicts.
What is written here is only what models do not say: paths, summaries, error codes, security.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from api import models
from api.errors import STATUS
from api.models import ID_PATTERN, ID_STRING
from vocabulary.schema import VERTICALS

__all__ = ["ID_PATTERN", "document"]

REF = "#/components/schemas/{model}"
RESPONSES = (models.Error, models.TypeaheadResponse, models.TrendingResponse, models.SearchResponse,
             models.DocumentResponse, models.DemoUsers, models.DemoLogin, models.Health, models.Ready)
BODIES = (models.SearchRequest, models.DemoLoginRequest)
SECURED = [{"bearer": [], "viewerToken": []}, {"bearer": []}]
API_ERRORS = ("bad_request", "unauthorized", "forbidden", "not_ready", "timeout")
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "an admin or a search API key"},
    "viewerToken": {"type": "apiKey", "in": "header", "name": "X-Viewer-Token", "description":
                    "when the server has a viewer secret: a JWT (HS256) signed with it, with `sub` (the viewer id as "
                    "a decimal string) and `exp`; required with a search key, verified whenever sent. A missing, "
                    "expired, forged or mismatched token is 401 unauthorized. Ignored without a viewer secret."},
}


class _Untitled(GenerateJsonSchema):
    """Schemas without the `title` pydantic gives every field (the property's name says it)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


@dataclass(frozen=True)
class Operation:
    summary: str
    response: type | None  # the JSON answer's type (api.models); None for an answer that is not JSON
    ok: str  # what a 200 is
    errors: tuple[str, ...] = ()
    params: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    secured: bool = False
    path_params: tuple[dict, ...] = ()
    other_content: tuple[str, dict] | None = None  # (media type, schema) of a 200 that is not JSON


def _ref(model: type) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(model: type[BaseModel]) -> list[dict]:
    """A query-parameter model as OpenAPI parameters; a field's description goes on the parameter."""
    schema = model.model_json_schema(schema_generator=_Untitled)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field = {k: v for k, v in field.items() if (k, v) != ("default", None)}
        description = field.pop("description", None)
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": field,
                           **({"description": description} if description else {})})
    return parameters


def _operation(op: Operation) -> dict:
    ok: dict = {"description": op.ok}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(op.response)}}
    elif op.other_content is not None:
        media_type, schema = op.other_content
        ok["content"] = {media_type: {"schema": schema}}
    responses = {"200": ok}
    by_status: dict[str, list[str]] = {}
    for code in op.errors:
        by_status.setdefault(str(STATUS[code]), []).append(code)
    for status, codes in by_status.items():
        responses[status] = {"description": " or ".join(codes),
                             "content": {"application/json": {"schema": _ref(models.Error)}}}
    parameters = [*op.path_params, *(_parameters(op.params) if op.params else [])]
    return {"summary": op.summary,
            **({"security": SECURED} if op.secured else {}),
            **({"parameters": parameters} if parameters else {}),
            **({"requestBody": {"required": True, "content": {"application/json": {"schema": _ref(op.body)}}}}
               if op.body else {}),
            "responses": responses}


def _document_operation(vertical: str) -> Operation:
    name = "the hashtag's name (a leading # is dropped)" if vertical == "hashtag" else "the id"
    id_schema = {"type": "string", "minLength": 1} if vertical == "hashtag" else ID_STRING
    return Operation(f"One denormalized {vertical} document, privacy-checked", models.DocumentResponse, "the document",
                     (*API_ERRORS, "not_found"), models.DocumentParams, secured=True,
                     path_params=({"name": "id", "in": "path", "required": True, "description": name,
                                   "schema": id_schema},))


HTML = ("text/html", {"type": "string"})
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/v1/typeahead", "get"): Operation(
        "Blended typeahead: users, hashtags, places; #q hashtags only, @q usernames only", models.TypeaheadResponse,
        "ranked results", API_ERRORS, models.TypeaheadParams, secured=True),
    ("/v1/trending", "get"): Operation(
        "Trending hashtags or places: distinct public accounts far above their baseline", models.TrendingResponse,
        "trending items, best first", ("bad_request", "unauthorized", "forbidden", "not_ready"),
        models.TrendingParams, secured=True),
    ("/v1/search", "post"): Operation(
        "Evaluate a set query (docs/query-language.md)", models.SearchResponse, "matching documents",
        ("bad_query", *API_ERRORS, "too_large"), body=models.SearchRequest, secured=True),
    **{(f"/v1/documents/{vertical}/{{id}}", "get"): _document_operation(vertical) for vertical in VERTICALS},
    ("/healthz", "get"): Operation("Liveness", models.Health, "alive"),
    ("/readyz", "get"): Operation("Readiness: index open, firehose lag", models.Ready, "ready", ("not_ready",)),
    ("/metrics", "get"): Operation("Prometheus metrics", None, "Prometheus text format",
                                   other_content=("text/plain", {"type": "string"})),
    ("/openapi.json", "get"): Operation("This document", None, "OpenAPI 3.1",
                                        other_content=("application/json", {"type": "object"})),
    ("/docs", "get"): Operation("An interactive explorer of this document", None, "HTML", other_content=HTML),
    ("/", "get"): Operation("The typeahead page", None, "HTML", other_content=HTML),
    ("/static/{file}", "get"): Operation(
        "The page's scripts and styles", None, "the file", ("not_found",),
        path_params=({"name": "file", "in": "path", "required": True, "schema": {"type": "string"}},)),
}
DEMO_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/v1/demo/users", "get"): Operation(
        "The demo's personas to log in as (only in `unicorn demo`)", models.DemoUsers,
        "a few users who follow many accounts", ("not_ready",)),
    ("/v1/demo/login", "post"): Operation(
        "Log in as a user of the demo platform (only in `unicorn demo`): its search key and a viewer token",
        models.DemoLogin, "a key and a viewer token", ("bad_request", "not_found", "too_large", "not_ready"),
        body=models.DemoLoginRequest),
}


def _schemas() -> dict:
    """The component schemas of every response and request body, named by their model."""
    _, defs = TypeAdapter.json_schemas([(model, "validation", TypeAdapter(model)) for model in (*RESPONSES, *BODIES)],
                                       ref_template=REF, schema_generator=_Untitled)
    return defs["$defs"]


@cache
def document(demo: bool = False) -> dict:
    """The document; `demo` adds the demo's login endpoints."""
    paths: dict[str, dict] = {}
    for (path, method), op in {**OPERATIONS, **(DEMO_OPERATIONS if demo else {})}.items():
        paths.setdefault(path, {})[method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "unicorn", "version": "1",
                 "description": "Social-graph-aware search: set queries, typeahead and documents (see docs/http-api.md)."},
        "components": {"schemas": _schemas(), "securitySchemes": SECURITY_SCHEMES},
        "paths": paths,
    }
