"""One loop for pools of jobs with prerequisites: start what is ready, handle what finishes."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

__all__ = ["run_when_ready"]


def run_when_ready(
    pool: cf.Executor,
    workers: int,
    take_ready: Callable[[list], Any],
    submit: Callable[[cf.Executor, Any], cf.Future],
    finished: Callable[[Any, cf.Future], None],
) -> None:
    """Keep ``workers`` jobs running on ``pool`` until none is ready and none runs.

    ``take_ready(running)`` returns the next job that may start while the jobs in
    ``running`` run, removing it from its queue (``None``: nothing may start now,
    e.g. every queued job waits for a running one, or a failure stopped new
    starts). ``submit(pool, job)`` starts it; ``finished(job, future)`` is called
    for each job as it ends, before the next ones start.
    """
    running: dict[cf.Future, Any] = {}
    while True:
        while len(running) < max(1, workers):
            job = take_ready(list(running.values()))
            if job is None:
                break
            running[submit(pool, job)] = job
        if not running:
            return
        done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in done:
            finished(running.pop(future), future)
