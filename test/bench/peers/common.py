"""What every bench worker shares: the workload, the machine-load reference, percentiles and the line protocol.

Standard library only: this file is imported by workers running in three different virtual
environments (ours, CodeCarbon's, calculadorapnav's).
"""

from __future__ import annotations

import json
import sys
import time

J_PER_KWH = 3.6e6


def busy(seconds: float) -> int:
    """One thread spinning on the CPU for `seconds` of wall time: the CPU-bound cell."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def machine_cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine from /proc/stat, counted the way CodeCarbon counts them."""
    with open('/proc/stat') as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 10)[:8]
    guest, guest_nice = (fields + [0.0] * 10)[8:10]
    # guest time is already inside user/nice
    total = sum(fields) - guest - guest_nice
    busy_s = total - idle - iowait
    return busy_s, total


def utilisation(before: tuple[float, float], after: tuple[float, float]) -> float:
    busy_delta = after[0] - before[0]
    total_delta = after[1] - before[1]
    return min(max(busy_delta / total_delta, 0.0), 1.0) if total_delta > 0 else 0.0


def cubic_power_w(tdp_w: float, u: float) -> float:
    """The load curve CodeCarbon 3 and PNAV Lab both use without RAPL: TDP x (0.1 + 0.9 u^3)."""
    return tdp_w * (0.1 + 0.9 * u**3)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def summary_ms(samples_s: list[float]) -> dict:
    ms = [s * 1000 for s in samples_s]
    return {
        'n': len(ms),
        'p50Ms': percentile(ms, 50),
        'p99Ms': percentile(ms, 99),
        'meanMs': sum(ms) / len(ms) if ms else None,
    }


def result(obj: dict) -> None:
    """The worker's answer: one line the orchestrator looks for among library log noise."""
    sys.stdout.write('RESULT ' + json.dumps(obj) + '\n')
    sys.stdout.flush()


def say(word: str) -> None:
    sys.stdout.write(word + '\n')
    sys.stdout.flush()


def wait_for(word: str) -> None:
    """Blocks (without using CPU) until the orchestrator sends `word` on stdin."""
    for line in sys.stdin:
        if line.strip() == word:
            return
    raise SystemExit(f'stdin closed while waiting for {word!r}')


def timed_pairs(baseline, measured, cells: int, warmup: int) -> tuple[list[float], list[float], float]:
    """Alternates baseline and measured calls (so drift hits both); returns both series and the first measured call."""
    first = None
    base: list[float] = []
    meas: list[float] = []
    for i in range(cells + warmup):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        measured()
        t2 = time.perf_counter()
        if first is None:
            first = t2 - t1
        if i >= warmup:
            base.append(t1 - t0)
            meas.append(t2 - t1)
    return base, meas, first or 0.0


def overhead_summary(base: list[float], meas: list[float], first_s: float) -> dict:
    """Added wall time per cell: each measured cell minus the median empty cell."""
    base_med = percentile(base, 50) or 0.0
    added = [max(0.0, m - base_med) for m in meas]
    out = summary_ms(added)
    out['baselineP50Ms'] = base_med * 1000
    out['firstCellMs'] = first_s * 1000
    return out
