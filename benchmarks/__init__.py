"""Benchmark scripts; run them all with ``python -m benchmarks`` or one with ``python -m benchmarks NAME``."""
