"""Validation of the toy simulation against the paper (fidelity report)."""
