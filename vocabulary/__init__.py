"""The shared vocabulary every room uses: text normalization, verticals and terms, data paths."""
