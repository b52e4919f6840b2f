"""Run every benchmark, print the table and write ``benchmarks/results.md``.

    python -m benchmarks            # full run (about 9 minutes on 2 cores)
    python -m benchmarks --quick    # fewer iterations (about 3.5 minutes)
    python -m benchmarks --only overhead,memory

Each figure runs in its own fresh interpreter (``python -m benchmarks.bench_<name>``), which
starts its own loopback server process, so one figure's imports, pools and heap do not
colour the next. Method and analysis: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata

from benchmarks._common import REPO_ROOT, Row

FIGURES = (
    "import",
    "overhead",
    "stream",
    "responses",
    "concurrency",
    "embeddings",
    "memory",
    "content",
    "state",
)
PACKAGES = (
    "openai",
    "anthropic",
    "google-genai",
    "httpx2",
    "pydantic",
    "dependency-injector",
    "tenacity",
    "opentelemetry-api",  # installed: the container traces every call (LLM_OTEL)
)

_FORMATS = {"µs": "{:,.0f} µs", "ms": "{:,.1f} ms", "s": "{:.3f} s", "MiB": "{:.1f} MiB"}


def run_figure(name: str, quick: bool) -> list[Row]:
    """Run ``benchmarks.bench_<name>`` in a fresh interpreter and read its rows."""
    command = [sys.executable, "-m", f"benchmarks.bench_{name}", *(["--quick"] if quick else [])]
    result = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    rows = [Row(**json.loads(line)) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0:
        rows.append(Row(f"{name}: FAILED (exit {result.returncode}, see stderr)", None, None, ""))
    return rows


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return _FORMATS.get(unit, "{:g} " + unit).format(value)


def table(rows: list[Row]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| figure | persona-llm | raw SDK | ratio | target | met? | note |",
        "|---|---:|---:|---:|---|:-:|---|",
    ]
    for row in rows:
        ratio = f"{row.ratio:.3f}x" if row.ratio is not None else "—"
        met = {True: "yes", False: "**NO**", None: "—"}[row.met]
        lines.append(
            f"| {row.figure} | {_value(row.ours, row.unit)} | {_value(row.raw, row.unit)} "
            f"| {ratio} | {row.target} | {met} | {row.note} |"
        )
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("log", "-1", "--format=%h %s")
    if not head:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--", "persona_llm")
    return head + (" + uncommitted changes in persona_llm/" if dirty else "")


def _load() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine(load_before: str, commit_before: str) -> list[str]:
    """Lines describing where the figures were taken."""
    commit = _commit()
    if commit != commit_before:
        commit = f"{commit_before} at the start; {commit} at the end"
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: {commit}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {_cpu_model()}, {platform.platform()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- {', '.join(versions)}",
        f"- load average (1/5/15 min) before: {load_before}; after: {_load()} "
        "(other processes share these CPUs: compare ratios, not absolute times)",
    ]


def write_results(
    path: str, rows: list[Row], quick: bool, seconds: float, load: str, commit: str
) -> None:
    """Write the Markdown report."""
    mode = "--quick" if quick else "full"
    text = "\n".join(
        [
            "# persona-llm benchmark results",
            "",
            f"Written by `python -m benchmarks` ({mode} run, {seconds / 60:.1f} min). "
            "Method, targets and analysis of the misses: [README.md](README.md). "
            "A ratio is persona-llm / raw SDK: above 1 means persona-llm is slower.",
            "",
            *machine(load, commit),
            "",
            table(rows),
            "",
        ]
    )
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 when a target is missed or a figure failed."""
    parser = argparse.ArgumentParser(description="persona-llm benchmarks against the raw SDKs")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "benchmarks", "results.md"))
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}; choose from {', '.join(FIGURES)}")
    started, load, commit = time.perf_counter(), _load(), _commit()
    rows: list[Row] = []
    for name in names:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        figure_rows = run_figure(name, args.quick)
        print(table(figure_rows), flush=True)
        rows += figure_rows
    elapsed = time.perf_counter() - started
    write_results(args.out, rows, args.quick, elapsed, load, commit)
    print(f"\nall figures ({elapsed / 60:.1f} min):\n\n{table(rows)}\n\nwritten to {args.out}")
    failed = any(row.met is False or (row.ours is None and row.raw is None) for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
