"""gg.nn (being built)."""
