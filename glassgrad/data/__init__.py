"""gg.data (being built)."""
