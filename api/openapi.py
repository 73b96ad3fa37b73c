"""The OpenAPI 3.1 document of the server (served at /openapi.json); tests hold it to the routes."""

from __future__ import annotations

from functools import cache

from api.errors import STATUS

ID = {"type": "string", "description": "an id: a decimal 64-bit unsigned integer; a hashtag's id is its name"}
VIEWER_PARAM = {"name": "viewer", "in": "query", "required": False,
                "description": "the user searching; privacy (SPEC §5) applies. Required with a search key.",
                "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}


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
    "SearchRequest": {"type": "object", "required": ["vertical", "query"], "additionalProperties": False,
                      "properties": {
        "vertical": {"type": "string", "enum": ["user", "media", "hashtag", "place"]},
        "query": {"description": "SPEC §4 s-expression, or its JSON form; over 16 KiB, deeper than 32 or "
                                 "over 1,024 operands is 413 too_large",
                  "oneOf": [{"type": "string"}, {"type": "object"}]},
        "viewer": {"description": "an id as a JSON integer or a decimal string; required with a search key",
                   "oneOf": [{"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
                             {"type": "string", "pattern": "^[0-9]{1,20}$"}, {"type": "null"}]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
        "order": {"type": "string", "enum": ["static", "social"], "default": "static"},
        "explain": {"type": "boolean", "default": False},
        "apply_fanout_max": {"type": "integer", "minimum": 1, "default": 100000}}},
    "SearchResult": {"type": "object", "required": ["id", "score", "doc"], "properties": {
        "id": ID, "score": {"type": "number"}, "doc": {"type": "object"},
        "why": {"type": "array", "items": {"type": "string"}}}},
    "SearchResponse": {"type": "object", "required": ["vertical", "total", "truncated", "results", "took_ms"],
                       "properties": {
        "vertical": {"type": "string"}, "total": {"type": "integer", "minimum": 0}, "truncated": {"type": "boolean"},
        "results": {"type": "array", "items": _ref("SearchResult")}, "took_ms": {"type": "number"}}},
    "DocumentResponse": {"type": "object", "required": ["vertical", "id", "doc"], "properties": {
        "vertical": {"type": "string"}, "id": ID, "doc": {"type": "object", "description": "the fields of SPEC §1"}}},
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "Ready": {"type": "object", "required": ["status", "index_open", "index_generation", "index_size_bytes",
                                              "firehose_lag", "indexer"], "properties": {
        "status": {"type": "string", "enum": ["ready"]}, "index_open": {"type": "boolean"},
        "index_generation": {"type": "integer"}, "index_size_bytes": {"type": "integer"},
        "firehose_lag": {"type": ["integer", "null"], "description": "embedded firehose events not yet indexed"},
        "indexer": {"type": ["object", "null"], "description": "what the indexer recorded with its last batch: "
                    "applied_total, dead_lettered_total, events_per_s, lag per partition, last_commit"}}},
}

SECURED = [{"bearer": []}]
API_ERRORS = ("bad_request", "unauthorized", "forbidden", "not_ready", "timeout")


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "unicorn", "version": "1",
                 "description": "Social-graph-aware search: set queries, typeahead and documents (SPEC §6)."},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "an admin or a search API key"}}},
        "paths": {
            "/v1/typeahead": {"get": {
                "summary": "Blended typeahead: users, hashtags, places; #q hashtags only, @q usernames only",
                "security": SECURED,
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 200}},
                    VIEWER_PARAM,
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
                    {"name": "verticals", "in": "query", "required": False,
                     "schema": {"type": "string", "default": "user,hashtag,place"},
                     "description": "comma-separated subset of user, hashtag, place"},
                    {"name": "typos", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["auto", "0"], "default": "auto"},
                     "description": "auto: a token of 4-7 characters also matches a name starting within one edit "
                                    "of it, 8 or more within two; 0: exact matches only"}],
                "responses": {**_ok("TypeaheadResponse", "ranked results"), **_errors(*API_ERRORS)}}},
            "/v1/search": {"post": {
                "summary": "Evaluate a SPEC §4 set query", "security": SECURED,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SearchRequest")}}},
                "responses": {**_ok("SearchResponse", "matching documents"),
                              **_errors("bad_query", *API_ERRORS, "too_large")}}},
            "/v1/documents/{vertical}/{id}": {"get": {
                "summary": "One denormalized document, privacy-checked", "security": SECURED,
                "parameters": [
                    {"name": "vertical", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": ["user", "media", "hashtag", "place"]}},
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    VIEWER_PARAM],
                "responses": {**_ok("DocumentResponse", "the document"), **_errors(*API_ERRORS, "not_found")}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": _ok("Health", "alive")}},
            "/readyz": {"get": {"summary": "Readiness: index open, firehose lag",
                                "responses": {**_ok("Ready", "ready"), **_errors("not_ready")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
                "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {
                "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/": {"get": {"summary": "The typeahead page", "responses": {"200": {
                "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/static/{file}": {"get": {
                "summary": "The page's scripts and styles",
                "parameters": [{"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the file"}, **_errors("not_found")}}},
        },
    }
