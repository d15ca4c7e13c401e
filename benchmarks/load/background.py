"""Background load for the benchmarks (CPU-bound processes that never sleep), and the
accounting that keeps other people's jobs on a shared machine out of the numbers."""
from __future__ import annotations

import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional

from bot.generation.threads import LoadMeter, system_busy_seconds

HOG = "while True: pass"
QUIET_BELOW = 0.3  # cores other processes may use for the machine to count as idle
FOREIGN_LIMIT = 0.3  # a measurement during which others' jobs used more cores than this is repeated


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


def wait_until_quiet(meter: Optional[LoadMeter] = None, limit_s: float = 180.0) -> float:
    """Wait (up to ``limit_s``) until other processes use under ``QUIET_BELOW`` cores: other
    people's jobs on a shared machine must not pass for our background load. Returns their use."""
    meter = meter or LoadMeter()
    deadline = time.monotonic() + limit_s
    while True:
        time.sleep(2.0)
        meter.sample()
        if meter.others_busy() < QUIET_BELOW or time.monotonic() > deadline:
            return meter.others_busy()


def busy_snapshot() -> tuple:
    """(wall clock, CPU-seconds of the whole machine, of this process and its waited-for children)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return time.monotonic(), system_busy_seconds(), ours


def foreign_cores(before: tuple, after: tuple) -> float:
    """Cores other people's processes used between two snapshots (not ours, not our hogs)."""
    wall = after[0] - before[0]
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall) if wall > 0 else 0.0
