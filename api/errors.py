"""docs/http-api.md error responses: `{"error": {"code", "message"}}` with the code's status."""

from __future__ import annotations

from starlette.responses import Response

from api.responses import JSONResponse

STATUS = {"bad_query": 400, "bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
          "method_not_allowed": 405, "too_large": 413, "internal": 500, "not_ready": 503, "timeout": 504}


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        assert code in STATUS, code
        super().__init__(message)
        self.code, self.message = code, message


def error_response(code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if code == "unauthorized" else {})}
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=STATUS[code], headers=headers)
