"""Figure 1: import cost and the first ``chat()``, each in fresh processes.

* ``import persona_llm``: wall time of the import statement and the RSS it adds, against
  the same script without the import (bare Python); median of the runs. Target: < 100 ms
  and < 25 MB over bare Python. ``from persona_llm.facades import get_chat_client`` (which loads the
  container, settings and pydantic) is reported beside it.
* First ``chat()`` per provider, SDK import included: ``get_chat_client().chat(...)`` from a
  cold interpreter against importing the SDK, building its client and making the same call.
  The import target is applied to what persona-llm adds: < +100 ms and < +25 MiB.

Fresh interpreters run with a warm bytecode cache, as after ``pip install``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from benchmarks import _clients as clients
from benchmarks._common import REPO_ROOT, Row, bench_server, main_for, median

IMPORT_MS_LIMIT, IMPORT_MB_LIMIT = 100.0, 25.0
FIRST_CALL_MS_LIMIT = 40.0  # issue 20: the first reply from cold, over the raw SDK's

# Fresh interpreters import as little as possible before measuring: anything the prelude
# loads would not be charged to persona-llm. RSS comes from /proc (the peak RSS elsewhere).
_RSS = """
def rss_mb():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
"""

_IMPORT_SCRIPT = (
    "import os, sys, time\n"
    + _RSS
    + """
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
print('{{"seconds": %r, "rss": %r, "modules": %d}}' % (elapsed, rss_mb(), len(sys.modules)))
"""
)

_FIRST_CHAT_SCRIPT = (
    "import json, os, sys, time\n"
    + _RSS
    + """
from benchmarks import _clients as c
provider, root, side = sys.argv[1:4]
start = time.perf_counter()
if side == "ours":
    c.container_chat()()
    imported = None
else:
    sdk = {"openai": "openai", "azure": "openai", "anthropic": "anthropic"}.get(provider)
    __import__(sdk or "google.genai")
    imported = time.perf_counter() - start
    c.raw_chat(provider, c.raw_client(provider, root))()
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss": rss_mb(), "sdk_import": imported}))
"""
)


def _child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured interpreter: bytecode cached, as after an install.

    Some sandboxes set PYTHONDONTWRITEBYTECODE, which makes every fresh interpreter compile
    persona_llm from source; the cache goes to a private prefix so the repository stays clean.
    """
    child = dict(os.environ if env is None else env)
    child.pop("PYTHONDONTWRITEBYTECODE", None)
    child["PYTHONPYCACHEPREFIX"] = _PYCACHE
    return child


_PYCACHE = os.path.join(tempfile.gettempdir(), "persona_llm_bench_pycache")


def _python(script: str, *args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run `script` in a fresh interpreter (from the repository root) and read its JSON line."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        env=_child_env(env),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{result.stderr}")
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _import_runs(statement: str, runs: int) -> tuple[float, float, float]:
    """Median seconds, median RSS (MiB) and median module count of `statement` run fresh."""
    _python(_IMPORT_SCRIPT.format(statement=statement))  # fills the bytecode cache
    results = [_python(_IMPORT_SCRIPT.format(statement=statement)) for _ in range(runs)]
    return (
        median([r["seconds"] for r in results]),
        median([r["rss"] for r in results]),
        median([r["modules"] for r in results]),
    )


def import_rows(runs: int) -> list[Row]:
    """Import time and RSS of ``import persona_llm`` (judged) and of the first facade import.

    ``import persona_llm`` is lazy, so the second statement, which loads pydantic, the
    container and dependency-injector, is reported beside it as what a first use costs.
    """
    _, bare_rss, bare_modules = _import_runs("pass", runs)
    rows = []
    for statement, judged in (
        ("import persona_llm", True),
        ("from persona_llm.facades import get_chat_client", False),
    ):
        seconds, rss, modules = _import_runs(statement, runs)
        ms, extra_mb = seconds * 1000, rss - bare_rss
        note = f"median of {runs} fresh processes; +{modules - bare_modules:.0f} modules"
        if not judged:
            note += "; pydantic included, which every provider SDK imports too"
        rows.append(
            Row(
                f"{statement}: wall time",
                ms,
                0.0,
                "ms",
                target=f"< {IMPORT_MS_LIMIT:.0f} ms" if judged else "— (info)",
                met=ms < IMPORT_MS_LIMIT if judged else None,
                note=note + " (raw column: bare Python)",
                group="1. import",
            )
        )
        rows.append(
            Row(
                f"{statement}: RSS",
                rss,
                bare_rss,
                "MiB",
                target=f"< +{IMPORT_MB_LIMIT:.0f} MiB" if judged else "— (info)",
                met=extra_mb < IMPORT_MB_LIMIT if judged else None,
                note=f"+{extra_mb:.1f} MiB over bare Python",
                group="1. import",
            )
        )
    return rows


def first_chat_rows(runs: int) -> list[Row]:
    """First ``chat()`` from a cold interpreter, per provider, against the bare SDK."""
    rows = []
    with bench_server() as server:
        for provider in clients.PROVIDERS:
            clients.point_container_at(provider, server.root)  # the children inherit it
            child_env = dict(os.environ)
            ours, raw = [], []
            for side in ("ours", "raw"):  # fills the bytecode cache
                _python(_FIRST_CHAT_SCRIPT, provider, server.root, side, env=child_env)
            results = {"ours": ours, "raw": raw}
            for index in range(runs):  # interleaved, order alternating: drift hits both alike
                for side in ("ours", "raw") if index % 2 else ("raw", "ours"):
                    result = _python(_FIRST_CHAT_SCRIPT, provider, server.root, side, env=child_env)
                    results[side].append(result)
            ours_ms = median([r["seconds"] for r in ours]) * 1000
            raw_ms = median([r["seconds"] for r in raw]) * 1000
            sdk_ms = median([r["sdk_import"] for r in raw]) * 1000
            rss_gap = median([r["rss"] for r in ours]) - median([r["rss"] for r in raw])
            rows.append(
                Row(
                    f"first chat() from cold, {provider} (SDK import included)",
                    ours_ms,
                    raw_ms,
                    "ms",
                    ratio=ours_ms / raw_ms,
                    target=f"≤ +{FIRST_CALL_MS_LIMIT:.0f} ms, < +{IMPORT_MB_LIMIT:.0f} MiB",
                    met=ours_ms - raw_ms <= FIRST_CALL_MS_LIMIT and rss_gap < IMPORT_MB_LIMIT,
                    note=(
                        f"{ours_ms - raw_ms:+.0f} ms; bare SDK import alone {sdk_ms:.0f} ms; "
                        f"RSS {rss_gap:+.1f} MiB vs raw; median of {runs}"
                    ),
                    group="1. import",
                )
            )
    return rows


def run(quick: bool = False) -> list[Row]:
    """Import rows, then first-chat rows."""
    return import_rows(10) + first_chat_rows(3 if quick else 11)


if __name__ == "__main__":
    main_for(run, __doc__ or "")
