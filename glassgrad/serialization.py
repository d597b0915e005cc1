"""gg.save / gg.load (being built)."""
