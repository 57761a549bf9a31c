"""One module per section of benchmarks/bench.py, numbered as in its output and benchmarks/README.md."""
