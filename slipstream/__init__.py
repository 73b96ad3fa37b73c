"""Slipstream: denormalized documents and term diffs from firehose events."""

from slipstream.apply import Slipstream

__all__ = ["Slipstream"]
