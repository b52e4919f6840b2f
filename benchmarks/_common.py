"""What every benchmark shares: the server process, result rows, RSS and thread counts."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Row:
    """One line of the results table.

    `ours` and `raw` are numbers in `unit`; `ratio` is ours / raw (None when it means
    nothing); `met` is None for figures reported without a target.
    """

    figure: str
    ours: float | None
    raw: float | None
    unit: str
    ratio: float | None = None
    target: str = "—"
    met: bool | None = None
    note: str = ""
    group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def ratio_row(
    figure: str,
    ours: float,
    raw: float,
    unit: str,
    *,
    limit: float | None = None,
    note: str = "",
    group: str = "",
) -> Row:
    """A row comparing `ours` with `raw`; `limit` is the highest ratio that meets the target."""
    ratio = ours / raw if raw else None
    met = None if limit is None or ratio is None else ratio <= limit
    target = f"≤ {limit:.2f}x" if limit is not None else "—"
    return Row(figure, ours, raw, unit, ratio, target, met, note, group)


def median(values: Sequence[float]) -> float:
    """The median (the mean of the two middle values for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; else the peak RSS)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def os_thread_count() -> int:
    """Threads of this process as the OS sees them (Python's own count off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()


class BenchServer:
    """The benchmark server (`benchmarks._server`) in a child process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        self.port = int(line)
        self.root = f"http://127.0.0.1:{self.port}"

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, path, body=payload)
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def set_latency(self, seconds: float) -> None:
        """Delay every reply by `seconds` from now on."""
        self._control("POST", "/_bench/config", {"latency": seconds})

    def last_request(self, route: str) -> dict[str, Any] | None:
        """The last request seen on `route` (e.g. ``openai-chat``): path and body."""
        result: dict[str, Any] | None = self._control("GET", f"/_bench/last?route={route}")
        return result

    def stop(self) -> None:
        """End the server (closing its stdin ends it; it is killed if it lingers)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def bench_server(latency: float = 0.0) -> Iterator[BenchServer]:
    """A running benchmark server with `latency`, stopped on exit."""
    server = BenchServer()
    try:
        server.set_latency(latency)
        yield server
    finally:
        server.stop()


def main_for(run: Any, description: str) -> None:
    """Command line of a benchmark module: run it and print its rows as JSON lines."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(json.dumps(asdict(row)), flush=True)
