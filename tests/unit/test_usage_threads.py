"""track_usage() scopes and threads: a plain thread does not inherit a scope; a thread run in
a copied context, and every task of ContextThreadPoolExecutor, do."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

from persona_llm import get_chat_client, track_usage
from persona_llm.usage import ContextThreadPoolExecutor

HELLO = [{"role": "user", "content": "hi"}]


def ask(_: object = None) -> str:
    return get_chat_client().chat(HELLO).content


def test_a_plain_thread_or_pool_is_not_counted_by_the_scope(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/echo"), track_usage() as scope:
        thread = threading.Thread(target=ask)
        thread.start()
        thread.join()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ask, range(2)))
    assert scope.report().total.calls == 0  # why the idiom and the helper exist


def test_copy_context_run_carries_the_scope_onto_a_thread(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/echo"), track_usage(task="batch") as scope:
        thread = threading.Thread(target=contextvars.copy_context().run, args=(ask,))
        thread.start()
        thread.join()
    report = scope.report()
    assert report.total.calls == 1 and report.rows[0].task == "batch"


def test_the_executor_helper_carries_the_scope_and_its_budget(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/echo"), track_usage() as outer:
        with track_usage() as inner, ContextThreadPoolExecutor(max_workers=3) as pool:
            assert list(pool.map(ask, range(5))) == ["hi"] * 5
            pool.submit(ask).result()
        assert inner.report().total.calls == 6
    assert outer.report().total.calls == 6
