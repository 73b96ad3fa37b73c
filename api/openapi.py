"""The OpenAPI 3.1 document of the server (served at /openapi.json); tests hold it to the routes.

Request schemas describe exactly what the server accepts: ids are decimal strings of value at most
2^64 - 1 (ID_PATTERN) or JSON integers in that range, verticals and orders are enums, limits have
their bounds.
"""

from __future__ import annotations

from functools import cache

from api.demo import MAX_USERNAME
from api.errors import STATUS
from unicorn.engine import MAX_ID
from unicorn.typeahead import MAX_CHARS
from unicorn.typeahead import MAX_LIMIT as TYPEAHEAD_MAX_LIMIT
from unicorn.typeahead import VERTICALS as TYPEAHEAD_VERTICALS
from vocabulary.schema import VERTICALS

SEARCH_MAX_LIMIT = 1000


def _decimal_at_most(bound: int) -> str:
    """A regular expression for the decimal strings (leading zeros allowed) of value at most `bound` (>= 10)."""
    digits = str(bound)
    below = [f"{digits[:i]}[{int(i == 0)}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"  # a leading 0 is in 0*
             for i, d in enumerate(digits) if int(d) > int(i == 0)]
    return f"^0*(?:[0-9]{{1,{len(digits) - 1}}}|{'|'.join(below)}|{digits})$"


ID_PATTERN = _decimal_at_most(MAX_ID)
ID = {"type": "string", "description": "an id: a decimal 64-bit unsigned integer; a hashtag's id is its name"}
ID_STRING = {"type": "string", "pattern": ID_PATTERN}
ID_INTEGER = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
VIEWER_PARAM = {"name": "viewer", "in": "query", "required": False,
                "description": "the user searching; privacy (SPEC §5) applies. With a search key: required, or "
                               "with a viewer secret, optional and equal to the X-Viewer-Token's sub.",
                "schema": ID_STRING}
_ONE_VERTICAL = f"(?:{'|'.join(TYPEAHEAD_VERTICALS)})"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: str) -> dict:
    by_status: dict[str, list[str]] = {}
    for code in codes:
        by_status.setdefault(str(STATUS[code]), []).append(code)
    return {status: {"description": " or ".join(names),
                     "content": {"application/json": {"schema": _ref("Error")}}}
            for status, names in by_status.items()}


def _ok(schema: str, description: str) -> dict:
    return {"200": {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}}


SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "enum": sorted(STATUS)}, "message": {"type": "string"}}}}},
    "Followee": {"type": "object", "required": ["id", "username", "full_name"],
                 "properties": {"id": ID, "username": {"type": "string"}, "full_name": {"type": "string"}}},
    "Social": {"type": "object", "required": ["following", "followed_by_count", "followed_by"], "properties": {
        "following": {"type": "boolean", "description": "the viewer follows this user"},
        "followed_by_count": {"type": "integer", "minimum": 0,
                              "description": "how many of the viewer's visible followees follow this user"},
        "followed_by": {"type": "array", "maxItems": 3, "items": _ref("Followee"),
                        "description": "a few of those followees, most followed first"}}},
    "TypeaheadResult": {"type": "object", "required": ["vertical", "id", "title", "subtitle", "score"], "properties": {
        "vertical": {"type": "string", "enum": ["user", "hashtag", "place"]}, "id": ID,
        "title": {"type": "string"}, "subtitle": {"type": "string"}, "score": {"type": "number"},
        "verified": {"type": "boolean", "description": "users only: a verified account"},
        "typo": {"type": "boolean", "const": True, "description": "present when found only through an edit"},
        "social": {**_ref("Social"), "description": "users only, when there is a viewer"}}},
    "TypeaheadResponse": {"type": "object", "required": ["q", "results", "took_ms"], "properties": {
        "q": {"type": "string"}, "results": {"type": "array", "items": _ref("TypeaheadResult")},
        "took_ms": {"type": "number"}}},
    "TrendingResult": {"type": "object", "required": ["id", "title", "score", "recent", "baseline"], "properties": {
        "id": ID, "title": {"type": "string"},
        "score": {"type": "number", "description": "recent x ln(recent / (baseline + prior)): higher trends more"},
        "recent": {"type": "integer", "minimum": 0, "description": "distinct public accounts in the recent window"},
        "baseline": {"type": "number", "minimum": 0, "description": "the item's expected distinct accounts per window"}}},
    "TrendingResponse": {"type": "object", "required": ["kind", "results", "as_of"], "properties": {
        "kind": {"type": "string", "enum": ["hashtag", "place"]},
        "results": {"type": "array", "items": _ref("TrendingResult")},
        "as_of": {"type": ["integer", "null"], "description": "the event time (ms) the counters have reached"}}},
    "SearchRequest": {"type": "object", "required": ["vertical", "query"], "additionalProperties": False,
                      "properties": {
        "vertical": {"type": "string", "enum": list(VERTICALS)},
        "query": {"description": "SPEC §4 s-expression, or its JSON form; over 16 KiB, deeper than 32 or "
                                 "over 1,024 operands is 413 too_large",
                  "oneOf": [{"type": "string"}, {"type": "object"}]},
        "viewer": {"description": "an id as a JSON integer or a decimal string; required with a search key "
                                  "(with a viewer secret: optional, and equal to the X-Viewer-Token's sub)",
                   "oneOf": [ID_INTEGER, ID_STRING, {"type": "null"}]},
        "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_MAX_LIMIT, "default": 20},
        "order": {"type": "string", "enum": ["static", "social"], "default": "static",
                  "description": '"social" needs a viewer'},
        "explain": {"type": "boolean", "default": False},
        "apply_fanout_max": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "default": 100000}}},
    "SearchResult": {"type": "object", "required": ["id", "score", "doc"], "properties": {
        "id": ID, "score": {"type": "number"}, "doc": {"type": "object"},
        "why": {"type": "array", "items": {"type": "string"}}}},
    "SearchResponse": {"type": "object", "required": ["vertical", "total", "truncated", "results", "took_ms"],
                       "properties": {
        "vertical": {"type": "string"}, "total": {"type": "integer", "minimum": 0}, "truncated": {"type": "boolean"},
        "results": {"type": "array", "items": _ref("SearchResult")}, "took_ms": {"type": "number"}}},
    "DocumentResponse": {"type": "object", "required": ["vertical", "id", "doc"], "properties": {
        "vertical": {"type": "string"}, "id": ID, "doc": {"type": "object", "description": "the fields of SPEC §1"}}},
    "DemoUser": {"type": "object", "required": ["id", "username", "full_name", "following_count"], "properties": {
        "id": ID, "username": {"type": "string"}, "full_name": {"type": "string"},
        "following_count": {"type": "integer", "minimum": 0}}},
    "DemoUsers": {"type": "object", "required": ["users"],
                  "properties": {"users": {"type": "array", "items": _ref("DemoUser")}}},
    "DemoLoginRequest": {"type": "object", "required": ["username"], "additionalProperties": False,
                         "properties": {"username": {"type": "string", "minLength": 1, "maxLength": MAX_USERNAME}}},
    "DemoLogin": {"type": "object", "required": ["token", "key", "viewer", "username", "expires"], "properties": {
        "token": {"type": "string", "description": "the viewer token to send as X-Viewer-Token"},
        "key": {"type": "string", "description": "the demo's search key, to send as Authorization: Bearer"},
        "viewer": ID, "username": {"type": "string"},
        "expires": {"type": "integer", "description": "when the token expires, in Unix seconds"}}},
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "Ready": {"type": "object", "required": ["status", "index_open", "index_generation", "index_size_bytes",
                                              "firehose_lag", "indexer"], "properties": {
        "status": {"type": "string", "enum": ["ready"]}, "index_open": {"type": "boolean"},
        "index_generation": {"type": "integer"}, "index_size_bytes": {"type": "integer"},
        "firehose_lag": {"type": ["integer", "null"], "description": "embedded firehose events not yet indexed"},
        "indexer": {"type": ["object", "null"], "description": "what the indexer recorded with its last batch: "
                    "applied_total, dead_lettered_total, events_per_s, lag per partition, last_commit"}}},
}

SECURED = [{"bearer": [], "viewerToken": []}, {"bearer": []}]
API_ERRORS = ("bad_request", "unauthorized", "forbidden", "not_ready", "timeout")
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "an admin or a search API key"},
    "viewerToken": {"type": "apiKey", "in": "header", "name": "X-Viewer-Token", "description":
                    "when the server has a viewer secret: a JWT (HS256) signed with it, with `sub` (the viewer id as "
                    "a decimal string) and `exp`; required with a search key, verified whenever sent. A missing, "
                    "expired, forged or mismatched token is 401 unauthorized. Ignored without a viewer secret."},
}


def _document_path(vertical: str) -> dict:
    name = "the hashtag's name (a leading # is dropped)" if vertical == "hashtag" else "the id"
    id_schema = {"type": "string", "minLength": 1} if vertical == "hashtag" else ID_STRING
    return {"get": {
        "summary": f"One denormalized {vertical} document, privacy-checked", "security": SECURED,
        "parameters": [{"name": "id", "in": "path", "required": True, "description": name, "schema": id_schema},
                       VIEWER_PARAM],
        "responses": {**_ok("DocumentResponse", "the document"), **_errors(*API_ERRORS, "not_found")}}}


DEMO_PATHS = {
    "/v1/demo/users": {"get": {
        "summary": "The demo's personas to log in as (only in `unicorn demo`)",
        "responses": {**_ok("DemoUsers", "a few users who follow many accounts"), **_errors("not_ready")}}},
    "/v1/demo/login": {"post": {
        "summary": "Log in as a user of the demo platform (only in `unicorn demo`): its search key and a viewer token",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("DemoLoginRequest")}}},
        "responses": {**_ok("DemoLogin", "a key and a viewer token"),
                      **_errors("bad_request", "not_found", "too_large", "not_ready")}}},
}


@cache
def document(demo: bool = False) -> dict:
    """The document; `demo` adds the demo's login endpoints."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "unicorn", "version": "1",
                 "description": "Social-graph-aware search: set queries, typeahead and documents (see docs/http-api.md)."},
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
        "paths": {
            "/v1/typeahead": {"get": {
                "summary": "Blended typeahead: users, hashtags, places; #q hashtags only, @q usernames only",
                "security": SECURED,
                "parameters": [
                    {"name": "q", "in": "query", "required": True,
                     "schema": {"type": "string", "maxLength": MAX_CHARS}},
                    VIEWER_PARAM,
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": TYPEAHEAD_MAX_LIMIT, "default": 10}},
                    {"name": "verticals", "in": "query", "required": False,
                     "schema": {"type": "string", "pattern": f"^{_ONE_VERTICAL}(?:,{_ONE_VERTICAL})*$",
                                "default": ",".join(TYPEAHEAD_VERTICALS)},
                     "description": "comma-separated, no spaces: " + ", ".join(TYPEAHEAD_VERTICALS)},
                    {"name": "typos", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["auto", "0"], "default": "auto"},
                     "description": "auto: a token of 4-7 characters also matches a name starting within one edit "
                                    "of it, 8 or more within two; 0: exact matches only"}],
                "responses": {**_ok("TypeaheadResponse", "ranked results"), **_errors(*API_ERRORS)}}},
            "/v1/trending": {"get": {
                "summary": "Trending hashtags or places: distinct public accounts far above their baseline",
                "security": SECURED,
                "parameters": [
                    {"name": "kind", "in": "query", "required": True,
                     "schema": {"type": "string", "enum": ["hashtag", "place"]}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
                    VIEWER_PARAM],
                "responses": {**_ok("TrendingResponse", "trending items, best first"),
                              **_errors("bad_request", "unauthorized", "forbidden", "not_ready")}}},
            "/v1/search": {"post": {
                "summary": "Evaluate a SPEC §4 set query", "security": SECURED,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SearchRequest")}}},
                "responses": {**_ok("SearchResponse", "matching documents"),
                              **_errors("bad_query", *API_ERRORS, "too_large")}}},
            **{f"/v1/documents/{vertical}/{{id}}": _document_path(vertical) for vertical in VERTICALS},
            **(DEMO_PATHS if demo else {}),
            "/healthz": {"get": {"summary": "Liveness", "responses": _ok("Health", "alive")}},
            "/readyz": {"get": {"summary": "Readiness: index open, firehose lag",
                                "responses": {**_ok("Ready", "ready"), **_errors("not_ready")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
                "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {
                "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/docs": {"get": {"summary": "An interactive explorer of this document", "responses": {"200": {
                "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/": {"get": {"summary": "The typeahead page", "responses": {"200": {
                "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/static/{file}": {"get": {
                "summary": "The page's scripts and styles",
                "parameters": [{"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the file"}, **_errors("not_found")}}},
        },
    }
