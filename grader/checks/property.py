"""Property checks: laws a correct implementation obeys, written per topic as small functions.

A property body receives the context and returns a ``Verdict``; ``Property`` gives it an id.
Helpers here call the student and compare two of its own results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

import numpy as np

from grader.checks.anchor import gate, record
from grader.checks.base import PASS, Context, Declared, Kind, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, diagnose, ratio_note
from grader.checks.outputs import CACHE
from grader.checks.reference import reference_outputs, student_and_reference


@dataclass(frozen=True)
class Property(Declared):
    """A check written as a function of the context. It counts only when its function is also
    right at its anchor (``grader.checks.anchor``): a law that a constant obeys proves nothing
    of a wrong function. A body of kind ``reference`` is taken for a plain comparison with the
    reference (it is not gated and may be the anchor) unless declared ``degenerate``; a law that
    no trivial function obeys (dropout's kept fraction) may be declared the anchor
    (``is_anchor``)."""

    topic: str
    function: str
    case: str
    body: Callable[[Context], Verdict]
    _: KW_ONLY
    hidden: bool = False
    kind: Kind = Kind.PROPERTY
    degenerate: bool = False
    is_anchor: bool = False  # a law no trivial function obeys: may anchor its function
    anchor_function: str | None = None  # gated on this function's anchor (default: its own)

    @property
    def anchor_ok(self) -> bool:
        return self.is_anchor or (self.kind is Kind.REFERENCE and not self.degenerate)

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, record(ctx, self, self.evaluate(ctx)))

    def evaluate(self, ctx: Context) -> Verdict:
        return self.body(ctx)


def student_outputs(ctx: Context, function: str, args: tuple, names: Sequence[str]) -> tuple:
    """Call the student and check the result's structure against the reference's."""
    return student_and_reference(ctx, function, args, names)[0]


def _finite(value: Any) -> bool:
    """True unless ``value`` (an array, a number, or a tuple, list or dict of them) holds NaN or
    inf; values that are not numbers count as finite."""
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    if isinstance(value, (bool, str)) or value is None:
        return True
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return True
    return array.dtype.kind not in "fc" or bool(np.all(np.isfinite(array)))


def expect_close(
    ctx: Context,
    function: str,
    law: str,
    names: Sequence[str],
    got: Sequence[Any],
    want: Sequence[Any],
    tol: float,
    evidence: Observation | None = None,
) -> Verdict:
    """PASS when ``got`` matches ``want`` (both computed for the law); else say which law broke.
    ``got`` must be finite first: an all-inf output is "linear" and "shift invariant".

    ``evidence`` is one plain call of the student's function, used to name a known mistake (its
    outputs are compared with each mistake's model on those inputs, and mistakes that the
    reference cannot be told from there are skipped); its ``expected`` is filled in here.
    """
    nonfinite = [n for n, g in zip(names, got) if n != CACHE and not _finite(g)]
    if nonfinite:  # inf == inf would satisfy any law: finiteness comes before the comparison
        return Verdict(
            Outcome.WRONG,
            f"{function}: {law} is checked on finite outputs only, and "
            f"{', '.join(nonfinite)} has NaN or inf for these finite inputs "
            "(numerical overflow? divide by zero?)",
        )
    comparisons = compare_outputs(names, got, want, tol)
    if all(c.ok for c in comparisons):
        return PASS
    bad = next(c for c in comparisons if not c.ok)
    mistake = None
    if evidence is not None:
        expected = reference_outputs(ctx, function, tuple(evidence.inputs))
        mistake = diagnose(ctx, replace(evidence, expected=expected), tol)
    lines = [f"{function}: {law} does not hold.", "  " + bad.describe()]
    ratio = ratio_note(bad)
    if ratio:
        lines.append(ratio)
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)
