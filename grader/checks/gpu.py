"""GPU checks: measurements on a real CUDA device, against the reference measured in the same run.

Without CUDA on the judge a GPU check is reported ``not_run`` ("not run: no CUDA device"),
neither passed nor failed and outside the maximum score (``gpu_checks_count_without_gpu`` in
autograder.yml makes it count). With CUDA, the reference runs in the judge process on the same
GPU, before and after the student's call (interleaved, so drift hurts both alike), and the
student's number must lie within a ratio band of the reference's mean: timings are never
compared in absolute terms, nor with a tight tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from grader.checks.base import PASS, Context, Declared, Kind, Outcome, Verdict, fail
from grader.checks.outputs import is_real_scalar
from grader.sim import judge_has_cuda

NO_CUDA = "not run: no CUDA device"


@dataclass(frozen=True)
class GpuCheck(Declared):
    """A check whose ``body`` needs CUDA on the judge (and in the worker)."""

    topic: str
    function: str
    case: str
    body: Callable[[Context], Verdict]
    _: KW_ONLY
    hidden: bool = False
    kind: Kind = Kind.GPU

    def unavailable(self) -> str | None:
        """Why this check cannot run on this machine (None: it can)."""
        return None if judge_has_cuda() else NO_CUDA

    def run(self, ctx: Context) -> Verdict:
        if reason := self.unavailable():
            return Verdict(Outcome.NOT_RUN, reason)
        return self.body(ctx)


def interleaved(reference: Callable[[], Any], student: Callable[[], Any]) -> tuple[Any, Any, Any]:
    """Reference, student, reference: the two reference runs bracket the student's."""
    before = reference()
    got = student()
    after = reference()
    return before, got, after


def real_number(value: Any, what: str) -> float:
    if not is_real_scalar(value):
        raise fail(
            Outcome.BAD_OUTPUT, f"{what}: expected a Python or numpy float, got {value!r:.80}"
        )
    return float(value)


@dataclass(frozen=True)
class Band:
    """Accept ``lo <= got / reference <= hi``."""

    lo: float = 0.67
    hi: float = 1.5

    def verdict(
        self, what: str, got: float, reference: float, unit: str, diagnosis: str = ""
    ) -> Verdict:
        ratio = got / reference if reference else float("inf")
        if self.lo <= ratio <= self.hi:
            return PASS
        lines = [
            f"{what}: yours {got:.4g} {unit}, the reference measured {reference:.4g} {unit} on "
            f"this GPU in the same run (ratio {ratio:.3g}, accepted {self.lo:g} to {self.hi:g})."
        ]
        if diagnosis:
            lines.append("  " + diagnosis)
        return Verdict(Outcome.WRONG, "\n".join(lines))
