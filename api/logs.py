"""Log configuration of `unicorn serve` and the indexer: one JSON object per line on stderr
(`UNICORN_LOG_FORMAT=json`, the default), or plain text (`text`), for uvicorn's loggers and ours."""

from __future__ import annotations

import logging.config
import os

FORMATS = ("json", "text")


def config(level: str = "INFO") -> dict:
    """A `logging.config.dictConfig` dictionary, also handed to uvicorn as its `log_config`."""
    kind = os.environ.get("UNICORN_LOG_FORMAT", "json")
    if kind not in FORMATS:
        raise ValueError(f"UNICORN_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {kind!r}")
    formatter = ({"()": "pythonjsonlogger.json.JsonFormatter", "timestamp": True,
                  "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
                  "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"}}
                 if kind == "json" else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {name: {"handlers": ["default"], "level": level, "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "unicorn", "indexer")},
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(config(level))
