"""Development helpers shared by tests/ and benchmarks/ (not installed, not copied into project copies).

Tests and benchmarks both need a throw-away copy of the project; keeping it here instead of in
tests/conftest.py lets benchmarks use it without importing pytest fixtures, and lets tests import
benchmark code without an import cycle.
"""
