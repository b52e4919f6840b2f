"""`track_usage()` scopes on threads: an executor whose workers run in the submitter's context.

Scopes live in `contextvars`, which a new thread does not inherit: a call made on a plain
`threading.Thread` or `concurrent.futures.ThreadPoolExecutor` worker started inside a scope is
not counted by it (nor held to its budget). Either run the function in a copy of the context::

    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(work, item)).start()

or submit it to `ContextThreadPoolExecutor`, which does that for every task.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["ContextThreadPoolExecutor"]

T = TypeVar("T")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A `ThreadPoolExecutor` that runs each task in a copy of the context of the code that
    submitted it, so the `track_usage()` scopes (and the task label) open there count it.

    Each task gets its own copy, taken at `submit` (or `map`) time.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context."""
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
