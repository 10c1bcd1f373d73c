"""Trivy as a promotion gate: run it, read its JSON, decide in Python."""
