"""`GET /docs`: an interactive explorer of `/openapi.json` (Swagger UI), its assets served from the
`swagger-ui-bundle-v2` package, never a CDN, and no key needed to open it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Unicorn search API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="explorer"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/static/explorer.js"></script>
</body>
</html>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def routes() -> list:
    return [Route("/docs", page, methods=["GET"]),
            Mount("/docs/assets", app=StaticFiles(directory=swagger_ui_path), name="docs-assets")]
