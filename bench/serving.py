"""A server run beside a bench or a test (the app, `mlflow server`): started,
waited for until its health URL answers 200, stopped at the end. Used by
bench/ and tests/ alike (tests import it as ``bench.serving``)."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serving(cmd: list[str], health: str, log: Path, timeout: float, **popen: object) -> Iterator[None]:
    """Run ``cmd`` (output to ``log``) until the block ends: once ``health``
    answers 200, then terminated (killed after 15 s)."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)  # type: ignore[call-overload]
        try:
            _wait_until_up(health, proc, log, timeout)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_until_up(health: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(health, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{health} did not answer within {timeout:.0f} s; see {log}")
