"""Gradings as tasks on a Dask cluster (``--executor dask --scheduler ADDRESS``) or on a
``distributed.LocalCluster`` of ``--jobs`` worker processes (``--executor dask-local``).

A Dask worker is a judge: it needs the kit installed (the ``grader`` package, the same code as
the client's: checked before the batch starts) and grades with the same sandbox
(``grader.sandbox``) as a local run; student code never runs in the Dask worker's own process.
The workers need no copy of the course or of the submissions: the batch carries them.

- The course: its configuration and check plans, and the files of the reference solutions
  (``CoursePack``), once per batch (a task that returns it, which the grading tasks depend
  on). A worker writes the solutions once per course version into a private folder in its
  Dask local directory (removed by Dask with the worker; hidden from the sandbox, like the
  client's). The journal's fingerprints are the client's: the worker grades what they say.
- The secret: with ``dask-local`` (workers on this machine, started by this process) it is
  in the task. With ``dask`` (a remote cluster) it never leaves the client: each worker reads
  its own, from the course's secret variable (``GRADER_SECRET`` unless ``secret_env`` says
  otherwise) or from the file named by ``GRADER_SECRET_FILE`` (a mounted secret), and the
  client checks each worker's fingerprint of it (``seed_id``) against its own before the
  batch and again in every task. A worker with another secret (or none, where the course
  has one) is an error that names it, never a silently different grade.
- A submission: its module files (bytes; each at most the layout's module limit), written
  into a private scratch folder on the worker for the grading and removed after it (with
  ``dask-local``, on this machine, the workers read them where they are).

What comes back is the ``Graded`` result (pickled by Dask: the workers are the instructor's
own trusted judges; the untrusted worker below each of them speaks only the sandbox's
protocol). The client writes every report, journal and gradebook, as for a local run.

Each task is submitted with ``retries`` (a task that raised is rerun, e.g. on another worker),
and a worker that dies mid-task has its tasks rescheduled by the scheduler (up to
``distributed.scheduler.allowed-failures``; past that the task's ``KilledWorker`` becomes that
submission's "autograder failed" result). On an interrupt the client cancels the batch's tasks
and tells every worker to kill its sandbox workers at once (``process.stop_all``); they take
new ones again when their running gradings have ended. Every Dask worker process becomes a
child subreaper at its first task, so what a student detached is killed by that worker.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from grader import interrupts
from grader.config import CheckPlan, Course, CourseConfig
from grader.executors import ExecutorError, Grade, Job, OnDone
from grader.judge.seeds import secret_id
from grader.layouts.kit import Submission
from grader.sandbox import process
from grader.sandbox.process import Sandbox

SECRET_FILE_ENV = "GRADER_SECRET_FILE"
CONNECT_TIMEOUT_S = 10
STOPPING_WAIT_S = 30.0  # a task arriving while an interrupted batch's gradings still end


class WorkerMismatch(Exception):
    """This Dask worker cannot grade for this client (other grader code, another secret)."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(
            "--executor dask and dask-local need the 'distributed' package: "
            "pip install 'dl-course-kit[cluster]' (or: pip install 'distributed>=2024.1')"
        ) from exc
    return distributed


def _code_hash() -> str:
    from grader.journal import _grader_code_hash  # the fingerprint the journal records

    return _grader_code_hash()


# -- what a task carries ----------------------------------------------------------------------
@dataclass(frozen=True)
class CoursePack:
    """The course as a worker needs it; ``secret`` is None where each worker has its own."""

    name: str
    config: CourseConfig
    plans: dict[str, tuple[CheckPlan, ...]]
    solutions: tuple[tuple[str, bytes], ...]  # (path under solutions/, content)
    secret: str | None
    seed_id: str
    grader_code: str

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.config.model_dump_json().encode())
        for name, data in self.solutions:
            h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()[:16]


def pack_course(course: Course, send_secret: bool) -> CoursePack:
    root = course.solutions_dir
    files = tuple(
        (p.relative_to(root).as_posix(), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    )
    return CoursePack(
        course.root.name,
        course.config,
        dict(course.plans),
        files,
        course.secret if send_secret else None,
        secret_id(course.secret),
        _code_hash(),
    )


@dataclass(frozen=True)
class SubmissionPack:
    """A submission; ``files`` (topic, file name, content) where the worker cannot read the
    client's files (None: the modules are graded where they are, for a local cluster)."""

    sub: Submission
    files: tuple[tuple[str, str, bytes], ...] | None


def pack_submission(sub: Submission, ship: bool) -> SubmissionPack:
    if not ship:
        return SubmissionPack(sub, None)
    files = tuple((t, path.name, path.read_bytes()) for t, path in sub.modules.items())
    return SubmissionPack(replace(sub, modules={}), files)


# -- the worker's side ------------------------------------------------------------------------
_active = 0  # gradings running in this worker process
_active_lock = threading.Lock()


@cache
def _scratch_root() -> Path:
    """This worker's folder for course copies and submissions: inside the Dask worker's own
    local directory, which Dask removes when the worker closes (and purges after a crash)."""
    try:
        from distributed import get_worker

        base = Path(get_worker().local_directory)
    except (ImportError, ValueError):  # not in a Dask worker (called directly)
        base = Path(tempfile.gettempdir()) / f"grader-dask-{os.getpid()}"
    root = base / "grader"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def _worker_secret(config: CourseConfig) -> tuple[str, Path | None]:
    if secret := os.environ.get(config.secret_env, ""):
        return secret, None
    if name := os.environ.get(SECRET_FILE_ENV):
        path = Path(name)
        try:
            return path.read_text(encoding="utf-8").strip(), path
        except OSError as exc:
            raise WorkerMismatch(f"cannot read the secret file {path}: {exc}") from None
    return "public", None


def worker_facts(config: CourseConfig) -> dict[str, Any]:
    """Run on each worker before a batch: its grader code and the fingerprint of the secret it
    would grade this course with (when the tasks do not carry one)."""
    facts: dict[str, Any] = {"grader_code": _code_hash()}
    try:
        facts["seed_id"] = secret_id(_worker_secret(config)[0])
    except WorkerMismatch as exc:
        facts["secret_error"] = str(exc)
    return facts


_courses: dict[tuple[str, ...], Course] = {}
_courses_lock = threading.Lock()


def _course(pack: CoursePack) -> Course:
    """The course on this worker: the pack's solutions in a folder of this worker's own."""
    key = (pack.digest, pack.seed_id, pack.grader_code, str(pack.secret is None))
    with _courses_lock:
        if key not in _courses:
            _courses[key] = _unpack(pack)
        return _courses[key]


def _unpack(pack: CoursePack) -> Course:
    if pack.grader_code != _code_hash():
        raise WorkerMismatch(
            f"this worker (pid {os.getpid()}) runs other grader code than the client: "
            "install the same version of the kit on every worker"
        )
    secret, secret_path = (
        (pack.secret, None) if pack.secret is not None else _worker_secret(pack.config)
    )
    if secret_id(secret) != pack.seed_id:
        raise WorkerMismatch(
            f"this worker's course secret (fingerprint {secret_id(secret)}) is not the "
            f"client's ({pack.seed_id}): give every worker the course secret "
            f"({pack.config.secret_env} or the file named by {SECRET_FILE_ENV})"
        )
    root = _scratch_root() / f"course-{pack.digest}" / pack.name
    solutions = root / pack.config.solutions
    for name, data in pack.solutions:
        path = solutions / name
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return Course(root, pack.config, secret, secret_path, dict(pack.plans))


def grade_on_worker(
    grade: Grade,
    course_pack: CoursePack,
    sub_pack: SubmissionPack,
    topics: tuple[str, ...],
    sandbox: Sandbox,
) -> Any:
    """A task: grade one submission on this Dask worker with the sandbox of a local run."""
    global _active
    from grader.batch import Interrupted

    process.become_subreaper()  # what a student detaches comes back here to be killed
    course = _course(course_pack)
    deadline = time.monotonic() + STOPPING_WAIT_S
    while process.stopping() and time.monotonic() < deadline:  # an interrupted batch's end
        time.sleep(0.05)
    with _active_lock:
        _active += 1
    try:
        with tempfile.TemporaryDirectory(dir=_scratch_root(), prefix="sub-") as folder:
            sub = sub_pack.sub
            if sub_pack.files is not None:
                sub = replace(sub, modules=_write_modules(Path(folder), sub_pack.files))
            # hidden from the sandbox: what the client hides (where it exists here) and this
            # worker's course copy, secret file and every submission it holds
            from grader.pipeline import sandbox_for

            here = sandbox_for(course, extra_hidden=(_scratch_root().parent,)).hide
            hide = tuple(dict.fromkeys(p for p in (*sandbox.hide, *here) if os.path.exists(p)))
            return grade(course, sub, topics, replace(sandbox, hide=hide))
    except Interrupted:  # this worker was told to stop: the client interrupted the batch
        raise RuntimeError("grading stopped on this worker (the batch was interrupted)") from None
    finally:
        with _active_lock:
            _active -= 1


def _write_modules(folder: Path, files: tuple[tuple[str, str, bytes], ...]) -> dict[str, Path]:
    modules = {}
    for topic, name, data in files:
        path = folder / name
        if path.exists():  # two topics with one file name: keep them apart
            path = folder / topic / name
            path.parent.mkdir()
        path.write_bytes(data)
        modules[topic] = path
    return modules


def _identity(value: Any) -> Any:
    return value


def stop_gradings() -> None:
    """Run on each worker on an interrupt: kill its sandbox workers now; take new ones again
    once its running gradings have ended (they end within moments without workers)."""
    process.stop_all()

    def resume_when_idle() -> None:
        deadline = time.monotonic() + 60.0
        while _active and time.monotonic() < deadline:
            time.sleep(0.05)
        process.resume()

    threading.Thread(target=resume_when_idle, daemon=True).start()


# -- the client's side ------------------------------------------------------------------------
class DaskExecutor:
    name = "dask"
    local = False

    def __init__(
        self,
        jobs: int = 1,
        scheduler: str | None = None,
        *,
        client: Any = None,
        send_secret: bool | None = None,
        retries: int = 2,
    ) -> None:
        """``scheduler``: the address of a running cluster; neither it nor ``client``: a
        ``LocalCluster`` of ``jobs`` single-threaded worker processes for the batch.
        ``send_secret``: put the secret in the tasks (default: only for a local cluster, whose
        workers also read the submissions where they are; remote workers get their files)."""
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.client = client
        self.local = scheduler is None and client is None  # a LocalCluster of this batch
        self.name = "dask-local" if self.local else "dask"
        self.send_secret = self.local if send_secret is None else send_secret
        self.retries = retries
        if self.client is None:
            _distributed()  # a clear error now, before any grading

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        distributed = _distributed()
        if self.client is not None:
            yield self.client
            return
        if self.scheduler:
            try:
                client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}"
                ) from None
            with client:
                yield client
            return
        try:
            cluster = distributed.LocalCluster(
                n_workers=self.jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # its workers are this batch's own: what they would log (a heartbeat to a
                # scheduler that an interrupt closed, with its traceback) the batch reports
                # itself as results, a lost task included
                silence_logs=logging.CRITICAL,
            )
        except Exception as exc:  # workers that did not start in time, no free port, ...
            raise ExecutorError(f"cannot start a local Dask cluster: {exc}") from exc
        with cluster, distributed.Client(cluster) as client:
            yield client

    def _check_workers(self, client: Any, pack: CoursePack) -> None:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ExecutorError(
                f"no Dask worker joined the scheduler within {CONNECT_TIMEOUT_S} s"
            ) from None
        for address, facts in client.run(worker_facts, pack.config).items():
            if facts.get("grader_code") != pack.grader_code:
                raise ExecutorError(
                    f"Dask worker {address} runs other grader code than this client: "
                    "install the same version of the kit on every worker"
                )
            if pack.secret is not None:  # in the tasks: the workers' own do not matter
                continue
            if "secret_error" in facts:
                raise ExecutorError(f"Dask worker {address}: {facts['secret_error']}")
            if facts.get("seed_id") != pack.seed_id:
                raise ExecutorError(
                    f"Dask worker {address} has another course secret (fingerprint "
                    f"{facts.get('seed_id')}; this client's is {pack.seed_id}): give every "
                    f"worker the secret ({pack.config.secret_env} or the file named by "
                    f"{SECRET_FILE_ENV})"
                )

    def run(
        self,
        grade: Grade,
        course: Course,
        sandbox: Sandbox,
        jobs: Sequence[Job],
        on_done: OnDone,
    ) -> None:
        if not jobs:
            return
        distributed = _distributed()
        pack = pack_course(course, self.send_secret)
        try:
            with self._connect() as client:
                self._check_workers(client, pack)
                self._grade(distributed, client, grade, pack, sandbox, jobs, on_done)
        except BaseException:
            # the cluster is closed: what a local cluster's workers left is ours to kill
            process.stop_all()
            process.resume()
            raise

    def _grade(
        self,
        distributed: Any,
        client: Any,
        grade: Grade,
        pack: CoursePack,
        sandbox: Sandbox,
        jobs: Sequence[Job],
        on_done: OnDone,
    ) -> None:
        batch = os.urandom(4).hex()
        # the course once in the graph (a task that returns it), fetched once per worker,
        # recomputed from its task if the workers holding it die
        course = client.submit(_identity, pack, key=f"grader-course-{batch}", pure=False)
        futures = {}
        for index, job in enumerate(jobs):
            future = client.submit(
                grade_on_worker,
                grade,
                course,
                pack_submission(job.sub, ship=not self.local),
                job.topics,
                sandbox,
                key=f"grade-{job.sub.student_id}-{batch}-{index}",
                pure=False,
                retries=self.retries,
            )
            futures[future] = index
        try:
            pending = set(futures)
            while pending:
                interrupts.check()  # distributed's own callbacks can swallow a Ctrl-C
                try:
                    done, pending = distributed.wait(
                        list(pending), timeout=0.25, return_when="FIRST_COMPLETED"
                    )
                except TimeoutError:
                    continue
                for future in done:
                    try:
                        outcome = future.result()
                    except Exception as exc:  # KilledWorker, a task that raised every retry
                        outcome = exc
                    on_done(futures[future], outcome)
        except BaseException:
            client.cancel([*futures, course], force=True)
            try:
                client.run(stop_gradings)
            except Exception:  # a worker gone meanwhile: nothing of it to stop
                pass
            raise
