"""Functional interface (being built)."""
