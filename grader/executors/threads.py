"""Gradings as threads of this judge process (``--executor threads``).

Cheapest to start and the only executor that sees monkeypatches of this process, but the
judges' own work (inputs, references, comparisons) shares one interpreter lock. An interrupt
kills every sandbox worker of this process (``process.stop_all``): the running gradings end
within moments, and their results (made with killed workers) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from grader.config import Course
from grader.executors import Grade, Job, OnDone
from grader.sandbox import process
from grader.sandbox.process import Sandbox


class ThreadExecutor:
    name = "threads"

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)

    def run(
        self,
        grade: Grade,
        course: Course,
        sandbox: Sandbox,
        jobs: Sequence[Job],
        on_done: OnDone,
    ) -> None:
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="grade")
        futures: dict[Future, int] = {}
        handed: set[Future] = set()
        try:
            for index, job in enumerate(jobs):
                futures[pool.submit(grade, course, job.sub, job.topics, sandbox)] = index
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
                for future in done:
                    handed.add(future)
                    on_done(futures[future], _outcome(future))
        except KeyboardInterrupt:
            # gradings that finished before the interrupt are complete: hand them over first
            finished = [f for f in futures if f.done() and f not in handed]
            process.stop_all()  # kills every worker; running gradings end within moments
            pool.shutdown(wait=True, cancel_futures=True)
            process.resume()
            for future in finished:
                if not future.cancelled() and future.exception() is None:
                    on_done(futures[future], future.result())
            raise
        finally:
            pool.shutdown(wait=True)


def _outcome(future: Future):
    exc = future.exception()
    return exc if exc is not None else future.result()
