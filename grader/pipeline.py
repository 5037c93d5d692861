"""The path of a submission: modules -> worker per topic -> checks -> scored results.

``grade_submission`` never raises for anything a student did: a missing module, an import that
fails, a crash or a timeout become outcomes of the checks concerned. Only a bug in the grader
itself escapes as an exception, and the batch driver (``grader.batch``) turns that into a visible
"autograder failed" entry for that one submission.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import inspect
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from grader import registry
from grader.checks.base import (
    Check,
    CheckFailed,
    Context,
    Kind,
    Misconception,
    Outcome,
    Verdict,
)
from grader.config import CheckPlan, Course
from grader.judge import expected
from grader.judge import plan as planning
from grader.judge.expected import CachedReference
from grader.judge.seeds import check_rng, check_seed, secret_id
from grader.judge.student import Rerun, StudentFault, StudentModule
from grader.layouts.kit import Submission
from grader.release.replay import DataReference, NotInData
from grader.sandbox import daemon, template
from grader.sandbox.process import Sandbox, WorkerProcess
from grader.sim import worker_setup


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    topic: str
    function: str
    kind: str
    outcome: Outcome
    points: float
    max_points: float
    visibility: str
    message: str
    staff: str = ""
    misconception: str | None = None
    warnings: tuple[str, ...] = ()
    elapsed: float = 0.0
    grader_fault: bool = False
    counts: bool = True  # toward the maximum: not-run GPU checks do not, unless configured

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True)
class SubmissionReport:
    student_id: str
    results: tuple[CheckResult, ...]
    isolation: str
    seed_id: str
    elapsed: float
    topics: tuple[str, ...]
    student_output: str = ""
    grader_error: str | None = None
    worker_start_s: tuple[float, ...] = field(default=())
    refused: str | None = None  # why the submission itself could not be read
    extra: dict = field(default_factory=dict)  # from the layout, into extra_data (layout, ...)

    @property
    def status(self) -> str:
        """``graded``; ``refused`` when the submission could not be read (a corrupt zip...);
        ``grader_error`` when the grader itself failed anywhere (regrade)."""
        if self.grader_error or any(r.grader_fault for r in self.results):
            return "grader_error"
        return "refused" if self.refused else "graded"

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results if r.counts)

    def topic_scores(self) -> dict[str, tuple[float, float]]:
        scores = {}
        for t in self.topics:
            rs = [r for r in self.results if r.topic == t]
            scores[t] = (sum(r.points for r in rs), sum(r.max_points for r in rs if r.counts))
        return scores


@cache
def reference_module(path: Path) -> ModuleType:
    """Import a reference solution by path (trusted code, judge side)."""
    spec = importlib.util.spec_from_file_location(f"_reference_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import reference {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cache_dir(course: Course) -> Path | None:
    """Where the reference's answers are kept between runs (``GRADER_EXPECTED_CACHE``: a folder,
    or ``off`` for memory only); hidden from the workers like the solutions."""
    chosen = os.environ.get("GRADER_EXPECTED_CACHE", "")
    if chosen == "off":
        return None
    return Path(chosen) if chosen else course.root / ".grader-cache"


_references: dict[tuple[Path, str, str], expected.CachedReference] = {}
KEEP_FROM_S = 0.001  # a numpy reference's answers are kept when they took this long or more
_references_lock = threading.Lock()


def reference_of(course: Course, topic: str) -> expected.CachedReference:
    """The topic's reference with its answers kept (``grader.judge.expected``), one per course,
    topic and secret for the life of this process (a batch shares it, its store and the parse
    of its source)."""
    from grader import release

    if (other := release.reference_for(course, topic)) is not None:
        return other  # recording for a release, or a release's data
    path = course.solutions_dir / f"{topic}.py"
    key = (path, topic, secret_id(course.secret))
    with _references_lock:
        ref = _references.get(key)
        if ref is None:
            version = expected.version(path, registry.topic_sources(topic)) + "-" + key[2]
            seal = hashlib.sha256(b"expected answers\0" + course.secret.encode()).digest()
            # a reference that imports torch: everything kept (the judge need not import it);
            # else only what takes a millisecond or more to compute
            cheap = 0.0 if _preload(path) else KEEP_FROM_S
            family = f"{topic}-*-{key[2]}.pickle"
            store = expected.Store(cache_dir(course), topic, version, seal, cheap, 48, family)
            ref = _references[key] = expected.CachedReference(path, store, reference_module)
    return ref


UNPLANNED_KINDS = frozenset({Kind.SPEED, Kind.GPU})  # timed call by call: never streamed
_plans: dict[tuple[str, str], planning.Plan] = {}
_plans_lock = threading.Lock()
PLAN_SOURCES = ("checks", "judge", "protocol")  # grader code whose change changes the calls


def plan_of(course: Course, topic: str, sandbox: Sandbox) -> planning.Plan:
    """The topic's planned calls (``grader.judge.plan``): check id -> its first requests. Kept
    for the life of this process and on disk beside the reference's answers; recorded, when
    neither has them, by grading the reference solution in a worker. None (every call sent
    live) with ``GRADER_PLAN=off``, and without the answers' folder
    (``GRADER_EXPECTED_CACHE=off``): a plan that is not kept costs a run more than it saves."""
    if os.environ.get("GRADER_PLAN", "") == "off" or cache_dir(course) is None:
        return {}
    path = _source(course, topic)
    package = Path(__file__).resolve().parent
    sources = [*registry.topic_sources(topic)]
    sources += [f for d in PLAN_SOURCES for f in sorted((package / d).glob("*.py"))]
    settings = hashlib.blake2b(course.config.model_dump_json().encode(), digest_size=8)
    version = f"{expected.version(path, sources)}-{settings.hexdigest()}-{secret_id(course.secret)}"
    key = (version, topic)
    with _plans_lock:
        if (kept := _plans.get(key)) is not None:
            return kept
        seal = hashlib.sha256(b"planned calls\0" + course.secret.encode()).digest()
        family = f"plan-{topic}-*-{secret_id(course.secret)}.pickle"
        store = expected.Store(cache_dir(course), f"plan-{topic}", version, seal, 0.0, 64, family)
        found = store.get("plan")
        plan = planning.loads(found[0]) if found is not expected.MISS else None
        if plan is None:
            recorder = planning.Recorder()
            grade_topic(course, topic, path, None, sandbox, recorder=recorder)
            plan = recorder.result()
            store.put("plan", (planning.dumps(plan), None, ()))
            store.save()
        _plans[key] = plan
    return plan


def sandbox_for(course: Course, extra_hidden: tuple[Path, ...] = ()) -> Sandbox:
    limits = course.config.limits
    # the whole course folder (example submissions, notes, the secret...), bar the grader's own
    # package and the Python installation when they lie inside it (kept by the worker)
    hidden = [course.root, course.solutions_dir, course.root / "tests", *extra_hidden]
    if (folder := cache_dir(course)) is not None:
        folder.mkdir(parents=True, exist_ok=True)
        hidden.append(folder)
    if course.secret_path:
        hidden.append(course.secret_path)
    if template.using_daemons() and daemon.enabled():  # grader check: no worker may reach one
        with contextlib.suppress(template.TemplateError):
            hidden.append(daemon.folder())
    return Sandbox(
        memory_mb=limits.memory_mb,
        cpu_s=limits.cpu_s,
        file_size_mb=limits.file_size_mb,
        open_files=limits.open_files,
        processes=limits.processes,
        output_kb=limits.output_kb,
        isolate=course.config.isolation == "auto",
        hide=tuple(str(p) for p in hidden if p.exists()),
    )


def _worker_setup(spec: registry.TopicSpec) -> str:
    """What the topic's worker installs before importing the module (the topic's
    ``WORKER_SETUP``, e.g. the simulated CUDA device where the judge has no GPU)."""
    return worker_setup(spec.worker_setup) if spec.worker_setup else ""


def _source(course: Course, topic: str) -> Path:
    """The reference's source, or in a release the stub as shipped (same imports)."""
    from grader import release

    if release.is_release(course):
        return course.root / release.DATA / "api" / f"{topic}.py"
    return course.solutions_dir / f"{topic}.py"


def preloads(course: Course, topics: Iterable[str]) -> set[tuple[str, ...]]:
    """The worker templates ``topics`` fork from (what each imports beyond numpy)."""
    return {_preload(_source(course, t)) for t in topics}


@cache
def _preload(reference: Path) -> tuple[str, ...]:
    """What the worker template imports for this topic beyond numpy: torch when the reference
    solution imports it (the student's module will too)."""
    try:
        tree = ast.parse(reference.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return ()
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n == "torch" or n.startswith("torch.") for n in names):
            return ("torch",)
    return ()


def _params_ok(student: list | None, reference: inspect.Signature) -> bool:
    """Can the student's callable take the reference's parameters positionally?"""
    if student is None:
        return True
    positional = [p for p in student if p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    required = [p for p in positional if not p[2]]
    has_var = any(p[1] == "VAR_POSITIONAL" for p in student)
    n = len(reference.parameters)
    return len(required) <= n and (len(positional) >= n or has_var)


def _defines(ref: ModuleType | CachedReference, name: str) -> bool:
    return ref.defines(name) if isinstance(ref, CachedReference) else hasattr(ref, name)


def _signature_problem(fn: str, info: dict, ref: ModuleType | CachedReference) -> str | None:
    described = ref.describe(fn) if isinstance(ref, CachedReference) else None
    if described is None:  # from the module itself
        target = getattr(ref, fn)
        described = isinstance(target, type), inspect.signature(target)
    is_class, sig = described
    if is_class != (info.get("kind") == "class"):
        kind = "a class" if is_class else "a function"
        return f"{fn} should be {kind}"
    if not _params_ok(info.get("params"), sig):
        found = ", ".join(p[0] for p in info.get("params") or [])
        wanted = ", ".join(sig.parameters)
        return f"wrong signature: expected {fn}({wanted}), found {fn}({found})"
    return None


def _result(
    plan: CheckPlan, check: Check, verdict: Verdict, elapsed: float, not_run_counts: bool = False
) -> CheckResult:
    passed = verdict.outcome is Outcome.PASSED
    return CheckResult(
        check_id=plan.check_id,
        topic=check.topic,
        function=check.function,
        kind=check.kind.value,
        outcome=verdict.outcome,
        points=plan.points if passed else 0.0,
        max_points=plan.points,
        visibility=plan.visibility,
        message=verdict.message,
        staff=verdict.staff,
        misconception=verdict.misconception,
        warnings=verdict.warnings,
        elapsed=elapsed,
        grader_fault=verdict.grader_fault,
        # a check not run here counts only if it is a GPU check and the course says so
        counts=verdict.outcome is not Outcome.NOT_RUN
        or (not_run_counts and check.kind is Kind.GPU),
    )


def _not_run(check: Check) -> Verdict | None:
    """``not_run`` for a check this machine cannot run (see ``Check.unavailable``)."""
    unavailable = getattr(check, "unavailable", None)
    reason = unavailable() if unavailable is not None else None
    return Verdict(Outcome.NOT_RUN, reason) if reason else None


def _left_out(ref: Any, check_id: str) -> Verdict | None:
    """``not_run`` for a check a release leaves out (its answers are not plain data)."""
    reason = ref.excluded.get(check_id) if isinstance(ref, DataReference) else None
    if reason is None:
        return None
    return Verdict(Outcome.NOT_RUN, f"not in the student release ({reason}): graded by the course")


def run_check(check: Check, ctx: Context, worker_seed: int) -> Verdict | None:
    """Run one check; every student fault becomes that check's verdict. None: run it again
    (``grader.judge.student.Rerun``)."""
    try:
        ctx.student.seed(worker_seed)
        # the judge's own global generator too, so that the reference's answers are the same
        # in every run (and can be kept: grader.judge.expected keys them by this state)
        np.random.seed(worker_seed ^ 0x5EED)
        return check.run(ctx)
    except Rerun:
        return None
    except CheckFailed as failed:
        return failed.verdict
    except NotInData as missing:  # a release whose data lacks an answer: say so, never skip
        return Verdict(Outcome.EXCEPTION, str(missing), grader_fault=True)
    except StudentFault as fault:
        return Verdict(Outcome(fault.outcome), fault.reason, staff=fault.staff)
    except Exception:  # a grader bug: visible as such, details for staff only
        return Verdict(
            Outcome.EXCEPTION,
            "the grader itself failed on this check (not your "
            "fault); your instructor has the details",
            staff=traceback.format_exc(),
            grader_fault=True,
        )


def _kept_mistakes(mistakes: tuple[Misconception, ...]) -> tuple[Misconception, ...]:
    """The known mistakes with their models' answers kept like the reference's."""

    def kept(index: int, m: Misconception) -> Misconception:
        def variant(ref: Any, *inputs: Any) -> Any:
            if not isinstance(ref, CachedReference):
                return m.variant(ref, *inputs)
            # by position: two models may share a name (two ways to make one mistake)
            label = f"mistake:{index}:{m.function}:{m.name}"
            return ref.memoized(label, lambda *args: m.variant(ref, *args), *inputs)

        return replace(m, variant=variant)

    return tuple(kept(i, m) for i, m in enumerate(mistakes))


def _preset(
    preset: dict[str, tuple[str, str]], function: str, refused: bool, missing: bool
) -> Verdict | None:
    """The layout's verdict for ``function`` (the ``"*"`` one only for functions it lacks)."""
    if refused:
        return None
    decided = preset.get(function) or (preset.get("*") if missing else None)
    return Verdict(Outcome(decided[0]), decided[1]) if decided else None


def grade_topic(
    course: Course,
    topic: str,
    module: Path | None,
    refused: str | None,
    sandbox: Sandbox,
    only_public: bool = False,
    preset: dict[str, tuple[str, str]] | None = None,
    notes: dict[str, str] | None = None,
    extra: tuple[tuple[Check, CheckPlan], ...] = (),
    recorder: planning.Recorder | None = None,
) -> tuple[list[CheckResult], StudentModule | None]:
    """Grade one topic; ``preset`` (function or ``"*"`` -> outcome, reason) are verdicts the
    layout decided without running code (not implemented, not found), ``notes`` (function ->
    text) warnings added to that function's checks (a convention the layout detected).

    The topic's planned calls (``plan_of``) are fetched in streams before the checks run;
    ``recorder`` records them instead (``plan_of`` grading the reference)."""
    spec = registry.topic(topic)
    preset, notes = preset or {}, notes or {}
    added = {plan.check_id: check for check, plan in extra}  # the layout's own (CS231n-only)
    plans = [*course.plans[topic], *(plan for _, plan in extra)]
    plans = [p for p in plans if not only_public or p.visibility == "visible"]
    ref = reference_of(course, topic)
    results: list[CheckResult] = []
    counts = course.config.gpu_checks_count_without_gpu  # GPU checks not run here still count
    if module is None:
        missing = Verdict(Outcome.NOT_SUBMITTED, refused or f"{topic}.py was not submitted")
        for plan in plans:
            check = added.get(plan.check_id) or spec.check(plan.check_id)
            decided = _preset(preset, check.function, refused is not None, True)
            verdict = _not_run(check) or decided or missing
            results.append(_result(plan, check, verdict, 0.0, counts))
        return results, None
    limits, tcfg = course.config.limits, course.config.topics[topic]
    over = tcfg.limits.model_dump(exclude_none=True)
    call_timeout = over.pop("call_timeout_s", limits.call_timeout_s)
    import_timeout = over.pop("import_timeout_s", limits.import_timeout_s)
    reference = _source(course, topic)
    sandbox = replace(sandbox, **over, setup=_worker_setup(spec), preload=_preload(reference))
    student = StudentModule(module, topic, sandbox, call_timeout, import_timeout)
    try:
        functions = student.loaded_functions()
        load_fault: StudentFault | None = None
    except StudentFault as fault:
        functions, load_fault = {}, fault
    mistakes = _kept_mistakes(spec.misconceptions)  # once per topic: the same for every check
    checks = [(plan, added.get(plan.check_id) or spec.check(plan.check_id)) for plan in plans]

    def decided(plan: CheckPlan, check: Check) -> Verdict | None:
        """The check's verdict without running it (None: it runs)."""
        if not_run := _not_run(check) or _left_out(ref, plan.check_id):
            return not_run
        if verdict := _preset(preset, check.function, False, check.function not in functions):
            return verdict
        if load_fault is not None:
            return Verdict(Outcome(load_fault.outcome), load_fault.reason, load_fault.staff)
        if check.function not in functions:
            return Verdict(
                Outcome.NOT_SUBMITTED, f"{check.function} is not defined in {module.name}"
            )
        if _defines(ref, check.function) and (
            problem := _signature_problem(check.function, functions[check.function], ref)
        ):
            return Verdict(Outcome.EXCEPTION, problem)
        return None

    if recorder is not None:
        student.recorder = recorder
    elif not isinstance(ref, DataReference) and (planned := plan_of(course, topic, sandbox)):
        student.prefetch(planned, [p.check_id for p, c in checks if decided(p, c) is None])
    for plan, check in checks:
        started = time.perf_counter()
        if isinstance(ref, DataReference):
            ref.begin(plan.check_id)  # a release's data is kept and looked up per check
        if (verdict := decided(plan, check)) is None:
            worker_seed = check_seed(course.secret, f"{plan.check_id}#worker") % 2**32
            student.begin(plan.check_id, check.kind not in UNPLANNED_KINDS)
            while verdict is None:  # run again (live) at most once: grader.judge.student.Rerun
                ctx = Context(
                    topic,
                    student,
                    ref,
                    check_rng(course.secret, plan.check_id),
                    mistakes,
                    mutation_policy=course.config.mutation,
                    speed=tcfg.speed,
                )
                verdict = run_check(check, ctx, worker_seed)
        if note := notes.get(check.function):
            verdict = replace(verdict, warnings=(*verdict.warnings, note))
        if isinstance(ref, DataReference) and (missing := ref.note(plan.check_id)):
            verdict = replace(verdict, warnings=(*verdict.warnings, missing))
        results.append(
            _result(
                plan,
                check,
                verdict,
                time.perf_counter() - started,
                counts,
            )
        )
    student.close()
    ref.store.save()
    return results, student


NO_STUDENT_CODE = "none (no student code ran)"  # a report's isolation when nothing ran


def grade_submission(
    course: Course,
    sub: Submission,
    topics: tuple[str, ...],
    only_public: bool = False,
    sandbox: Sandbox | None = None,
    on_topic: Callable[[str], None] | None = None,
) -> SubmissionReport:
    """Grade ``topics`` of ``sub``; ``on_topic(topic)`` is called as each topic starts."""
    started = time.perf_counter()
    sandbox = sandbox or sandbox_for(course)
    results: list[CheckResult] = []
    isolation: list[str] = []
    outputs: list[str] = []
    starts: list[float] = []
    for preload in preloads(course, (t for t in topics if sub.modules.get(t))):
        WorkerProcess.warm(replace(sandbox, preload=preload))  # torch imports while numpy grades
    for topic in topics:
        if on_topic:
            on_topic(topic)
        why_not = sub.refused and f"the submission could not be read: {sub.refused}"
        topic_results, student = grade_topic(
            course,
            topic,
            sub.modules.get(topic),
            why_not or sub.problems.get(topic),
            sandbox,
            only_public,
            preset=sub.preset.get(topic),
            notes=sub.notes.get(topic),
            extra=sub.checks.get(topic, ()),
        )
        results += topic_results
        if student is not None:
            isolation = isolation or student.isolation
            outputs += student.output_log
            starts += student.start_times
    return SubmissionReport(
        student_id=sub.student_id,
        results=tuple(results),
        isolation="+".join(isolation) if isolation else NO_STUDENT_CODE,
        seed_id=secret_id(course.secret),
        elapsed=time.perf_counter() - started,
        topics=topics,
        student_output="\n".join(outputs),
        worker_start_s=tuple(starts),
        refused=sub.refused,
        extra=dict(sub.extra),
    )
