"""Trending hashtags and places (docs/http-api.md), after Instagram's pipeline: pre-processor -> parser ->
scorer -> ranker, fed by the indexer. Read side: `unicorn.trending`."""

from trending.pipeline import Pipeline

__all__ = ["Pipeline"]
