"""Security benchmark: conversation isolation, injection and fuzzing of every public endpoint.

    python -m benchmarks.security [--requests 1000] [--seed 35]

writes ``benchmarks/results/security.json``. The fuzzing lives in ``strategies``
(what is sent), ``fuzz`` (sending and counting) and ``server_logs`` (internal errors
read from the servers' logs).
"""
