"""The query path as stages: parse -> typecheck -> plan -> evaluate -> rank, with explain beside; each
operator's part of every stage lives in its module under operators/, registered once (operators/__init__.py)."""
