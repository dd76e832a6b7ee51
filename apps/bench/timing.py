"""Timing helpers every benchmark shares: best-of-N wall time, percentiles, memory bandwidth, resident memory.

```python
from llamasys.apps.bench.timing import percentiles, best_seconds, copy_bandwidth
percentiles([0.010, 0.012, 0.050])          # {"p50_ms": 12.0, "p95_ms": 46.2, "mean_ms": 24.0, "min_ms": 10.0, "n": 3}
copy_bandwidth("cpu") / 1e9                 # GB/s of a 256 MiB tensor copy, read + write bytes
```
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Sequence

import torch

__all__ = [
    "best_seconds",
    "copy_bandwidth",
    "peak_rss_mb",
    "percentiles",
    "read_bandwidth",
    "rss_mb",
    "sync",
]


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean / min of durations given in seconds, reported in milliseconds (rounded to 0.001 ms),
    plus the sample count. p95 interpolates linearly between order statistics (statistics.quantiles,
    method "inclusive"); one sample is its own p50 and p95. Raises ValueError on an empty sequence."""
    if not seconds:
        raise ValueError("percentiles of no samples: run the measurement at least once")
    ms = sorted(s * 1e3 for s in seconds)
    if len(ms) == 1:
        p50 = p95 = ms[0]
    else:
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        p50, p95 = statistics.median(ms), cuts[94]
    return {
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "min_ms": round(ms[0], 3),
        "n": len(ms),
    }


def copy_bandwidth(device: torch.device | str = "cpu", nbytes: int = 256 << 20, repeats: int = 8) -> float:
    """Bytes per second moved by `dst.copy_(src)` of a large tensor (read + write), best of `repeats`."""
    device = torch.device(device)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / best_seconds(lambda: dst.copy_(src), device, repeats)


def read_bandwidth(device: torch.device | str = "cpu", nbytes: int = 256 << 20, repeats: int = 8) -> float:
    """Bytes per second read by summing a large tensor, best of `repeats`: the ceiling of a decode step,
    which reads its weights and writes next to nothing."""
    device = torch.device(device)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    return nbytes / best_seconds(src.sum, device, repeats)


def best_seconds(fn, device: torch.device, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:  # not Linux
        return float("nan")
