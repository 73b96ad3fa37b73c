"""The HTTP API (docs/http-api.md): `create_app` builds the ASGI app, `serve` runs it under uvicorn."""

from api.app import create_app
from api.server import serve

__all__ = ["create_app", "serve"]
