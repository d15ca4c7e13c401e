"""CPU threads for one reply, chosen from the cores that are free right now.

Why this matters (measured in ``docs/generation-under-load.md``): a decoding step
is a few hundred small parallel regions, each ending at a barrier. With two
OpenMP threads on a 2-core machine where another process keeps one core busy,
one of our threads shares its core with that process, and every barrier waits
for it to be scheduled again: one token took seconds. One thread on the free
core has no barrier to wait at. So the thread count is decided per reply from
what the other processes use, measured from ``/proc/stat`` minus this
process's own CPU time (our own generation must not count as load).

PyTorch's OpenMP thread count is per calling thread (``omp_set_num_threads``
sets the caller's own setting), so :func:`use_threads` must run on the thread
that generates: the generation worker does that.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Tuple

import torch

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
PROC_STAT = Path("/proc/stat")
# Another process using more than this share of a core takes that core away from us:
# a straggler at every barrier costs more than the second thread gains.
BUSY_CORE_SHARE = 0.25
WINDOW_S = 2.0  # how far back the load is averaged


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota: the affinity is the limit
    return max(1, cores)


def threads_for(others_busy: float, cores: int, most: int) -> int:
    """Threads to use when other processes keep ``others_busy`` cores (fractional) busy.

    ``most`` caps the result (0: no cap beyond ``cores``); never fewer than one.
    """
    # A core counts as free unless others use more than BUSY_CORE_SHARE of it.
    wanted = math.floor(cores - others_busy + BUSY_CORE_SHARE)
    cap = cores if most <= 0 else min(most, cores)
    return max(1, min(cap, wanted))


def system_busy_seconds() -> float:
    """CPU-seconds all processes (and the hypervisor's steal) took since boot."""
    fields = [int(v) for v in PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class LoadMeter:
    """Cores kept busy by *other* processes, averaged over the last ``window_s`` seconds.

    Call :meth:`sample` every so often (the generation worker does, while it waits
    for work, and before each reply); :meth:`others_busy` reads the average.
    """

    def __init__(
        self,
        window_s: float = WINDOW_S,
        system: Callable[[], float] = system_busy_seconds,
        own: Callable[[], float] = _own_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._system, self._own, self._clock = system, own, clock
        self._samples: Deque[Tuple[float, float, float]] = deque()
        self._lock = threading.Lock()
        self.sample()

    def sample(self) -> None:
        try:
            point = (self._clock(), self._system(), self._own())
        except (OSError, ValueError, IndexError):
            return  # no /proc/stat here: others_busy stays 0, threads stay at the cap
        with self._lock:
            self._samples.append(point)
            # Keep one sample at least window_s old, so the average spans the window.
            while len(self._samples) > 2 and point[0] - self._samples[1][0] >= self.window_s:
                self._samples.popleft()

    def others_busy(self) -> float:
        """Cores (fractional) other processes used, over the window; 0 without two samples."""
        with self._lock:
            if len(self._samples) < 2:
                return 0.0
            (t0, system0, own0), (t1, system1, own1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0:
            return 0.0
        return max(0.0, ((system1 - system0) - (own1 - own0)) / (t1 - t0))


_set_here = threading.local()


def use_threads(count: int) -> int:
    """Make PyTorch run ops of the *calling* thread on ``count`` threads; returns it."""
    if getattr(_set_here, "count", None) != count:
        torch.set_num_threads(count)
        _set_here.count = count
    return count

