"""Independent graph reads run at once: explain asks a dozen questions, and
the server plans and runs them side by side (the first answer after a start
is mostly query planning). The driver and the prediction store are safe to
share between threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

WORKERS = 4  # reads at once


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, in order (the first error is raised)."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(calls))) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]
