"""Trending hashtags and places (SPEC §6), after Instagram's pipeline: pre-processor -> parser ->
scorer -> ranker, fed by the indexer. Read side: `unicorn.trending`."""

from trending.pipeline import Pipeline

__all__ = ["Pipeline"]
