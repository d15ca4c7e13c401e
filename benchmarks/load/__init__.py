"""The generator under load: ``python -m benchmarks.load`` (scenarios, results in
``benchmarks/results/streaming.json`` under ``under_load``) and
``python -m benchmarks.load.diagnose`` (prefill and per-token times by threads,
OpenMP wait policy and background load; see docs/generation-under-load.md)."""
