"""Where the benchmark's code lives: child processes re-run this checkout's bench.py, not an installed copy."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench.py"
