"""Background load for the benchmarks: CPU-bound processes that never sleep."""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator, List

HOG = "while True: pass"


@contextmanager
def cpu_hogs(count: int, settle_s: float = 0.0) -> Iterator[List[subprocess.Popen]]:
    """``count`` busy-looping Python processes for the duration of the block."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]
    try:
        if hogs and settle_s:
            time.sleep(settle_s)
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
