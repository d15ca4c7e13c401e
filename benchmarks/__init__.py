"""Benchmarks that need running servers (``python -m benchmarks.security``); results in ``results/``."""
