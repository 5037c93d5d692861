"""Topic ``autograd``, part four: the verdicts on what a program left in the student's Value.

A wrong gradient is reported at the first node, going back from the output, whose grad is
wrong: every node computed from it is right there, so the culprit is one of that node's
consumers (its local rule, how its contribution is added, or when it ran). Known mistakes are
named by replaying the program on each mistaken engine and comparing the grads of every node;
every verdict ends with the program, as code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from grader.checks.base import PASS, Context, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, compare_outputs, diagnose, mismatch_verdict
from grader.judge.compare import Comparison, relative_error
from grader.judge.student import StudentFault
from grader.topics.autograd import engines, replay
from grader.topics.autograd.engines import NO_UNBROADCAST
from grader.topics.autograd.programs import Program, consumers, listing, summary


def title(program: Program) -> str:
    """What the program is, for the first line of a verdict."""
    return summary(program) + (f" ({program.note})" if program.note else "")


def with_listing(verdict: Verdict, program: Program, *extra: str) -> Verdict:
    """``verdict`` with the lines ``extra`` and the program's listing appended."""
    lines = [verdict.message, *[f"  {e}" for e in extra if e]]
    lines.append("  program (run on your Value and on the reference engine):")
    lines += [f"    {line}" for line in listing(program)]
    return Verdict(verdict.outcome, "\n".join(lines), misconception=verdict.misconception)


def named(ctx: Context, outcome: Outcome, message: str, name: str) -> Verdict:
    """A verdict naming the known mistake ``name``, with its hint."""
    hint = next(m.hint for m in ctx.misconceptions if m.name == name)
    return Verdict(
        outcome,
        f"{message}\n  looks like a known mistake: {name}. Hint: {hint}",
        misconception=name,
    )


def grad_names(program: Program) -> tuple[str, ...]:
    """``("n0.grad", "n1.grad", ...)``, one per node."""
    return tuple(f"n{i}.grad" for i in range(program.size))


def observation(
    program: Program, grads: Sequence[object], expected: Sequence[object]
) -> Observation:
    """What the mistakes are matched on: the grads of every node after the program."""
    return Observation(
        "Value", title(program), (program,), tuple(grads), grad_names(program), tuple(expected)
    )


def all_close(got: Sequence[np.ndarray], want: Sequence[np.ndarray], tol: float) -> bool:
    """Do all pairs match? One comparison of everything at once (the same maximum error as one
    comparison per pair, at a fraction of the cost); the caller compares pair by pair only to
    say where a mismatch is."""
    if not got:
        return True
    flat = [np.ravel(g) for g in got], [np.ravel(w) for w in want]
    return relative_error("all", np.concatenate(flat[0]), np.concatenate(flat[1]), tol).ok


def data_verdict(
    program: Program, data: Sequence[object], expected: Sequence[np.ndarray], tol: float
) -> Verdict | None:
    """None when every node's data matches the reference; else the first wrong node's verdict."""
    first = len(program.leaves)
    arrays = []
    for i, want in enumerate(expected):
        got = replay.array(data[i], want.shape, f"n{i}.data")
        if got.shape != want.shape:
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{title(program)}: n{i}.data has shape {got.shape}, expected {want.shape}",
            )
        arrays.append(got)
    if all_close(arrays, expected, tol):
        return None
    for i, (got, want) in enumerate(zip(arrays, expected)):
        cmp = relative_error(f"n{i}.data", got, want, tol)
        if not cmp.ok:
            what = "a leaf" if i < first else "the forward pass of " + listing(program)[i]
            message = (
                f"{title(program)}: n{i}.data differs from the reference ({what}).\n"
                f"  {cmp.describe()}"
            )
            return with_listing(Verdict(Outcome.WRONG, message), program)
    return None


def student_grads(
    ctx: Context, program: Program, raw: Sequence[object], expected: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """The student's grads as arrays, shapes checked: a wrong shape fails here (named when it is
    a gradient that was not summed back to its input's shape)."""
    got = [replay.array(g, e.shape, f"n{i}.grad") for i, (g, e) in enumerate(zip(raw, expected))]
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g.shape != e.shape]
    if not bad:
        return got
    i = bad[0]
    message = (
        f"{title(program)}: n{i}.grad has shape {got[i].shape}; a grad has the shape of its "
        f"node's data, {expected[i].shape}"
    )
    if _broadcasts_to(expected[i].shape, got[i].shape):
        message += (
            " (the shape of a broadcast result: a gradient that reaches an input through "
            "broadcasting is summed back to the input's shape, see unbroadcast)"
        )
    mistake = diagnose(ctx, observation(program, got, expected), 1e-6)
    if mistake is not None:
        verdict = named(ctx, Outcome.WRONG, message, mistake.name)
    else:
        verdict = Verdict(Outcome.BAD_OUTPUT, message)
    raise fail(
        verdict.outcome,
        with_listing(verdict, program).message,
        misconception=verdict.misconception,
    )


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _where(program: Program, node: int) -> str:
    if program.steps and program.steps[-1].action == "zero_grad":
        return (
            f"after n{program.root}.zero_grad() every node of the graph must have a zero grad; "
            f"n{node} kept its gradient"
        )
    if node == program.root:
        return (
            f"n{node} is the output: backward() sets its grad to the seed (ones for a scalar "
            "output, else the grad passed in)"
        )
    uses = consumers(program, node)
    if not uses:
        return ""
    return (
        f"n{node} is the first node, going back from the output, whose grad is wrong; the nodes "
        f"computed from it are right, so look at {' and '.join(uses[:3])}: its local rule, how "
        f"its contribution is added to n{node}.grad, and that it runs only once its own grad is "
        "complete"
    )


def grad_verdict(
    ctx: Context,
    program: Program,
    got: Sequence[np.ndarray],
    expected: Sequence[np.ndarray],
    comparisons: Sequence[Comparison],
    tol: float,
    against: str,
    *extra: str,
) -> Verdict:
    """PASS when every comparison holds; else the mismatch verdict, localised and listed."""
    if all(c.ok for c in comparisons):
        return PASS
    seen = observation(program, got, expected)
    verdict = mismatch_verdict(ctx, seen, comparisons, tol, against)
    first = next(c for c in comparisons if not c.ok)
    where = re.fullmatch(r"n(\d+)\.grad", first.name)
    found = _where(program, int(where.group(1))) if where else ""
    return with_listing(verdict, program, found, *extra)


def judge_graph(ctx: Context, program: Program, seen: replay.Seen, tol: float) -> Verdict:
    """The student's data and grads of every node against the reference engine's."""
    data, expected = map(list, engines.reference(ctx.ref, program))
    wrong = data_verdict(program, seen.data, data, tol)
    if wrong is not None:
        return wrong
    got = student_grads(ctx, program, seen.grads, expected)
    if all_close(got, expected, tol):
        return PASS
    order = list(reversed(range(program.size)))  # from the output back
    names = grad_names(program)
    comparisons = compare_outputs(
        [names[i] for i in order], [got[i] for i in order], [expected[i] for i in order], tol
    )
    return grad_verdict(ctx, program, got, expected, comparisons, tol, "the reference engine")


def named_fault(ctx: Context, program: Program, fault: StudentFault) -> Exception:
    """numpy's "non-broadcastable output operand" in a backward pass is an in-place
    ``grad += g`` with g of a broadcast shape: a failure naming the gradient not summed back to
    its input's shape. Any other exception gets the program's listing; other faults (timeouts,
    crashes) are returned as they are."""
    text = fault.reason
    if fault.outcome != "exception":
        return fault
    if "non-broadcastable output operand" not in text:
        plain = with_listing(Verdict(Outcome.EXCEPTION, f"{title(program)}: {text}"), program)
        return StudentFault(fault.outcome, plain.message, fault.staff)
    message = (
        f"{title(program)}: {text}\n  a contribution of the broadcast shape was added into a "
        "smaller grad (a number or array operand, such as the -1 of -y, is a constant leaf "
        "Value whose grad has its own shape too)"
    )
    verdict = with_listing(named(ctx, Outcome.EXCEPTION, message, NO_UNBROADCAST), program)
    return fail(verdict.outcome, verdict.message, staff=fault.staff, misconception=NO_UNBROADCAST)


def replay_programs(
    ctx: Context, programs: Sequence[Program], reads: str | Sequence[str] = "all"
) -> list[replay.Seen]:
    try:
        return replay.run(ctx, programs, reads)
    except StudentFault as fault:
        raise named_fault(ctx, programs[0], fault) from None


def run_one(ctx: Context, program: Program) -> replay.Seen:
    """One program replayed on the student's Value (see ``replay_programs``)."""
    return replay_programs(ctx, [program])[0]
