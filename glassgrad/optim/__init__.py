"""gg.optim (being built)."""
