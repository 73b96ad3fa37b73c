"""The HTTP API's typed models (docs/http-api.md). Each request body and query-parameter set is a
pydantic model that validates it (`parse`); each response is a TypedDict. api/openapi.py generates
the OpenAPI document from both, so what is documented is what is checked.

pydantic rather than msgspec: ids and `apply_fanout_max` run to 2^64 - 1, past the int64 bounds
that msgspec's constraints support, and query-string numbers keep their decimal form (leading
zeros allowed, "5.0" refused), which a validator states once beside its JSON schema.

Ids in a query string are decimal strings; in a JSON body, a JSON integer or a decimal string.
Both are at most 2^64 - 1 (ID_PATTERN is that bound as a regular expression).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from typing_extensions import NotRequired, TypedDict

from api.demo import MAX_USERNAME
from api.errors import STATUS, ApiError
from unicorn.engine import MAX_ID
from unicorn.engine import MAX_LIMIT as SEARCH_MAX_LIMIT
from unicorn.query.typecheck import decimal, shown
from unicorn.trending import LIMIT_MAX as TRENDING_MAX_LIMIT
from unicorn.typeahead import MAX_CHARS
from unicorn.typeahead import MAX_LIMIT as TYPEAHEAD_MAX_LIMIT
from unicorn.typeahead import VERTICALS as TYPEAHEAD_VERTICALS

Vertical = Literal["user", "media", "hashtag", "place"]
TypeaheadVertical = Literal["user", "hashtag", "place"]
TrendingKind = Literal["hashtag", "place"]
ErrorCode = Literal[tuple(sorted(STATUS))]


def _decimal_at_most(bound: int) -> str:
    """A regular expression for the decimal strings (leading zeros allowed) of value at most `bound` (>= 10)."""
    digits = str(bound)
    below = [f"{digits[:i]}[{int(i == 0)}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"  # a leading 0 is in 0*
             for i, d in enumerate(digits) if int(d) > int(i == 0)]
    return f"^0*(?:[0-9]{{1,{len(digits) - 1}}}|{'|'.join(below)}|{digits})$"


ID_PATTERN = _decimal_at_most(MAX_ID)
ID_STRING = {"type": "string", "pattern": ID_PATTERN}
ID_INTEGER = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
_ONE_TYPEAHEAD_VERTICAL = f"(?:{'|'.join(TYPEAHEAD_VERTICALS)})"
TYPEAHEAD_VERTICALS_PATTERN = f"^{_ONE_TYPEAHEAD_VERTICAL}(?:,{_ONE_TYPEAHEAD_VERTICAL})*$"
VIEWER = ("the user searching; privacy (docs/privacy.md) applies. With a search key: required, or with a viewer secret, "
          "optional and equal to the X-Viewer-Token's sub.")


def _number_text(value: object) -> object:
    """A query-string number: ASCII digits, leading zeros allowed, of value at most 2^64 - 1."""
    if isinstance(value, str):
        number = decimal(value)
        if number is None:
            raise ValueError("must be a decimal integer of at most 2^64 - 1")
        return number
    return value


def _id_text(value: object) -> int:
    """A decimal string."""
    number = decimal(value) if isinstance(value, str) else None
    if number is None:
        raise ValueError("must be an unsigned 64-bit id (a decimal string)")
    return number


def _id_json(value: object) -> int | None:
    """A JSON integer or a decimal string (never a boolean), or null."""
    if value is None:
        return None
    if isinstance(value, str):
        number = decimal(value)
    else:
        number = value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID else None
    if number is None:
        raise ValueError("must be an unsigned 64-bit id (a JSON integer or a decimal string)")
    return number


def _comma_separated(value: object) -> object:
    return tuple(value.split(",")) if isinstance(value, str) else value


ViewerText = Annotated[int | None, BeforeValidator(_id_text), WithJsonSchema(ID_STRING)]
ViewerJson = Annotated[int | None, BeforeValidator(_id_json),
                       WithJsonSchema({"oneOf": [ID_INTEGER, ID_STRING, {"type": "null"}]})]
TypeaheadLimit = Annotated[int, Field(ge=1, le=TYPEAHEAD_MAX_LIMIT), BeforeValidator(_number_text)]
TrendingLimit = Annotated[int, Field(ge=1, le=TRENDING_MAX_LIMIT), BeforeValidator(_number_text)]
TypeaheadVerticals = Annotated[tuple[TypeaheadVertical, ...], BeforeValidator(_comma_separated),
                               WithJsonSchema({"type": "string", "pattern": TYPEAHEAD_VERTICALS_PATTERN})]
Query = Annotated[Any, WithJsonSchema({"oneOf": [{"type": "string"}, {"type": "object"}]})]  # the parser checks it


class _Params(BaseModel):
    """A query-parameter set: every value arrives as a string; unknown parameters are ignored."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class _Body(BaseModel):
    """A JSON body: types as JSON gives them (no coercion); an unknown field is 400."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class TypeaheadParams(_Params):
    q: str = Field(max_length=MAX_CHARS)
    viewer: ViewerText = Field(None, description=VIEWER)
    limit: TypeaheadLimit = 10
    verticals: TypeaheadVerticals = Field(",".join(TYPEAHEAD_VERTICALS), validate_default=True,
                                          description="comma-separated, no spaces: " + ", ".join(TYPEAHEAD_VERTICALS))
    typos: Literal["auto", "0"] = Field("auto", description=(
        "auto: a token of 4-7 characters also matches a name starting within one edit of it, 8 or more within "
        "two; 0: exact matches only"))


class TrendingParams(_Params):
    kind: TrendingKind
    limit: TrendingLimit = 10
    viewer: ViewerText = Field(None, description=VIEWER)


class DocumentParams(_Params):
    viewer: ViewerText = Field(None, description=VIEWER)


class SearchRequest(_Body):
    vertical: Vertical
    query: Query = Field(description="an s-expression (docs/query-language.md), or its JSON form; over 16 KiB, deeper than 32 or over "
                                     "1,024 operands is 413 too_large")
    viewer: ViewerJson = Field(None, description=(
        "an id as a JSON integer or a decimal string; required with a search key (with a viewer secret: optional, and "
        "equal to the X-Viewer-Token's sub)"))
    limit: Annotated[int, Field(ge=1, le=SEARCH_MAX_LIMIT)] = 20
    order: Literal["static", "social"] = Field("static", description='"social" needs a viewer')
    explain: bool = False
    apply_fanout_max: Annotated[int, Field(ge=1, le=MAX_ID)] = 100_000


class DemoLoginRequest(_Body):
    username: Annotated[str, Field(min_length=1, max_length=MAX_USERNAME)]


def parse(model: type[BaseModel], data: Mapping[str, Any]) -> Any:
    """`data` (a JSON object, or the query parameters) as a `model`, else ApiError 400 bad_request naming
    each wrong field and what it got."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")  # a misspelt field first
        raise ApiError("bad_request", "; ".join(_problem(model, error) for error in errors[:3])) from None


def _problem(model: type[BaseModel], error) -> str:
    where = ".".join(str(part) for part in error["loc"][:1])
    if error["type"] == "missing":
        return f"{where} is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field {where!r}; expected {', '.join(model.model_fields)}"
    reason = str(error["ctx"]["error"]) if error["type"] == "value_error" else re.sub(r"^\w+ should ", "must ",
                                                                                      error["msg"])
    return f"{where} {reason}, got {shown(error['input'])}"


# responses: what the engine answers, as documented (not validated at run time)

Id = Annotated[str, Field(description="an id: a decimal 64-bit unsigned integer; a hashtag's id is its name")]


class ErrorDetail(TypedDict):
    code: ErrorCode
    message: str


class Error(TypedDict):
    error: ErrorDetail


class Followee(TypedDict):
    id: Id
    username: str
    full_name: str


class Social(TypedDict):
    following: Annotated[bool, Field(description="the viewer follows this user")]
    followed_by_count: Annotated[int, Field(ge=0, description="how many of the viewer's visible followees follow "
                                                              "this user")]
    followed_by: Annotated[list[Followee], Field(max_length=3, description="a few of those followees, most "
                                                                           "followed first")]


class TypeaheadResult(TypedDict):
    vertical: TypeaheadVertical
    id: Id
    title: str
    subtitle: str
    score: float
    verified: NotRequired[Annotated[bool, Field(description="users only: a verified account")]]
    typo: NotRequired[Annotated[Literal[True], Field(description="present when found only through an edit")]]
    social: NotRequired[Annotated[Social, Field(description="users only, when there is a viewer")]]


class TypeaheadResponse(TypedDict):
    q: str
    results: list[TypeaheadResult]
    took_ms: float


class TrendingResult(TypedDict):
    id: Id
    title: str
    score: Annotated[float, Field(description="recent x ln(recent / (baseline + prior)): higher trends more")]
    recent: Annotated[int, Field(ge=0, description="distinct public accounts in the recent window")]
    baseline: Annotated[float, Field(ge=0, description="the item's expected distinct accounts per window")]


class TrendingResponse(TypedDict):
    kind: TrendingKind
    results: list[TrendingResult]
    as_of: Annotated[int | None, Field(description="the event time (ms) the counters have reached")]


class SearchResult(TypedDict):
    id: Id
    score: float
    doc: dict[str, Any]
    why: NotRequired[list[str]]


class SearchResponse(TypedDict):
    vertical: str
    total: Annotated[int, Field(ge=0)]
    truncated: bool
    results: list[SearchResult]
    took_ms: float


class DocumentResponse(TypedDict):
    vertical: str
    id: Id
    doc: Annotated[dict[str, Any], Field(description="the document's fields (docs/events.md)")]


class DemoUser(TypedDict):
    id: Id
    username: str
    full_name: str
    following_count: Annotated[int, Field(ge=0)]


class DemoUsers(TypedDict):
    users: list[DemoUser]


class DemoLogin(TypedDict):
    token: Annotated[str, Field(description="the viewer token to send as X-Viewer-Token")]
    key: Annotated[str, Field(description="the demo's search key, to send as Authorization: Bearer")]
    viewer: Id
    username: str
    expires: Annotated[int, Field(description="when the token expires, in Unix seconds")]


class Health(TypedDict):
    status: str


class Ready(TypedDict):
    status: Literal["ready"]
    index_open: bool
    index_generation: int
    index_size_bytes: int
    firehose_lag: Annotated[int | None, Field(description="embedded firehose events not yet indexed")]
    indexer: Annotated[dict[str, Any] | None, Field(description=(
        "what the indexer recorded with its last batch: applied_total, dead_lettered_total, events_per_s, lag per "
        "partition, last_commit"))]
