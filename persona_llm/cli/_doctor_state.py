"""The state rows of ``persona-llm doctor``: the store (reachable, latency, version), the
rate limits, the response cache and what happens when the store fails."""

from __future__ import annotations

from persona_llm.errors import ConfigurationError
from persona_llm.settings import Settings
from persona_llm.state.config import StateConfig

Row = tuple[str, str, str]


def state_rows(settings: Settings) -> list[Row]:
    """One row each for the store, the limits, the cache and ``LLM_STATE_ON_ERROR``."""
    try:
        config = StateConfig.from_settings(settings)
    except ConfigurationError as exc:
        return [("state", "FAIL", exc.message)]
    from persona_llm.state.build import make_store
    from persona_llm.state.store import StoreError

    rows: list[Row] = []
    try:
        store = make_store(config)
        info = store.info()
        store.close()
    except (StoreError, ConfigurationError) as exc:
        rows.append(("state store", "FAIL", str(exc)))
    else:
        if info.backend == "memory":
            detail = "memory: this process only (LLM_STATE=redis://... shares it across workers)"
        else:
            detail = (
                f"{info.url} (Redis {info.version}), {info.latency_s * 1000:.1f} ms round trip, "
                f"prefix {config.prefix!r}, timeout {config.timeout:g} s"
            )
        rows.append(("state store", "ok", detail))
    limits = "; ".join(f"{e.pattern}: {e.describe()}" for e in config.limits)
    window = "" if config.window == 60 else f" (a 'minute' is {config.window:g} s)"
    rows.append(("rate limits", "ok" if limits else "-", (limits or "none") + window))
    cache = config.cache
    if cache.kind == "off":
        rows.append(("response cache", "-", "off (LLM_CACHE)"))
    else:
        where = f"sqlite:///{cache.path}" if cache.kind == "sqlite" else cache.kind
        ttl = f"ttl {cache.ttl:g} s" if cache.ttl else "no expiry"
        rows.append(("response cache", "ok", f"{where}, {ttl}"))
    rows.append(
        (
            "state on error",
            "ok",
            f"{config.on_error}: "
            + (
                "calls proceed unlimited while the store fails"
                if config.on_error == "open"
                else "calls are refused while the store fails"
            ),
        )
    )
    return rows
