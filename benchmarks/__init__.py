"""vae-pipe's benchmarks (bench.py, precision.py): scripts, importable so tests can check their logic."""
