"""Benchmarks that print tables, save plots and write benchmarks/results/NAME.json."""
