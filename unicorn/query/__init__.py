"""The query path as stages: parse -> typecheck -> plan -> evaluate (operators/, privacy) -> rank -> explain."""
