"""Topic ``autograd``, part four: the bodies of the Value checks and the verdicts they give.

Every body draws a program from the check's rng, replays it on the student's Value
(``replay``) and judges what it reads against the reference engine (``engines``), against a
law (add passes the gradient unchanged, mul swaps, relu routes to the larger input) or against
the numeric gradient of the student's own forward pass. A wrong gradient is reported at the
first node, going back from the output, whose grad is wrong: every node computed from it is
right there, so the culprit is one of that node's consumers (their local rules, or how their
contributions are added). Known mistakes are named by replaying the program on each mistaken
engine and comparing the grads of every node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from grader.checks.base import PASS, Context, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, compare_outputs, diagnose, mismatch_verdict
from grader.checks.gradient import ADVICE
from grader.judge import numgrad
from grader.judge.compare import Comparison, gradient_error, relative_error
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle
from grader.topics.autograd import engines, replay
from grader.topics.autograd.engines import NO_UNBROADCAST
from grader.topics.autograd.programs import Make, Program, consumers, listing, summary

Body = Callable[[Context], Verdict]
H = 1e-5  # numeric gradient step


# -- verdicts ------------------------------------------------------------------------------------
def _title(program: Program) -> str:
    return summary(program) + (f" ({program.note})" if program.note else "")


def _with_listing(verdict: Verdict, program: Program, *extra: str) -> Verdict:
    lines = [verdict.message, *[f"  {e}" for e in extra if e]]
    lines.append("  program (run on your Value and on the reference engine):")
    lines += [f"    {line}" for line in listing(program)]
    return Verdict(verdict.outcome, "\n".join(lines), misconception=verdict.misconception)


def _named(ctx: Context, outcome: Outcome, message: str, name: str) -> Verdict:
    hint = next(m.hint for m in ctx.misconceptions if m.name == name)
    return Verdict(
        outcome,
        f"{message}\n  looks like a known mistake: {name}. Hint: {hint}",
        misconception=name,
    )


def _grad_names(program: Program) -> tuple[str, ...]:
    return tuple(f"n{i}.grad" for i in range(program.size))


def observation(
    program: Program, grads: Sequence[object], expected: Sequence[object]
) -> Observation:
    """What the mistakes are matched on: the grads of every node after the program."""
    return Observation(
        "Value", _title(program), (program,), tuple(grads), _grad_names(program), tuple(expected)
    )


def _close(got: Sequence[np.ndarray], want: Sequence[np.ndarray], tol: float) -> bool:
    """Do all pairs match? One comparison of everything at once (the same maximum error as one
    comparison per pair, at a fraction of the cost); the caller compares pair by pair only to
    say where a mismatch is."""
    if not got:
        return True
    flat = [np.ravel(g) for g in got], [np.ravel(w) for w in want]
    return relative_error("all", np.concatenate(flat[0]), np.concatenate(flat[1]), tol).ok


def _data_verdict(
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
                f"{_title(program)}: n{i}.data has shape {got.shape}, expected {want.shape}",
            )
        arrays.append(got)
    if _close(arrays, expected, tol):
        return None
    for i, (got, want) in enumerate(zip(arrays, expected)):
        cmp = relative_error(f"n{i}.data", got, want, tol)
        if not cmp.ok:
            what = "a leaf" if i < first else "the forward pass of " + listing(program)[i]
            message = (
                f"{_title(program)}: n{i}.data differs from the reference ({what}).\n"
                f"  {cmp.describe()}"
            )
            return _with_listing(Verdict(Outcome.WRONG, message), program)
    return None


def _grads(
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
        f"{_title(program)}: n{i}.grad has shape {got[i].shape}; a grad has the shape of its "
        f"node's data, {expected[i].shape}"
    )
    if _broadcasts_to(expected[i].shape, got[i].shape):
        message += (
            " (the shape of a broadcast result: a gradient that reaches an input through "
            "broadcasting is summed back to the input's shape, see unbroadcast)"
        )
    mistake = diagnose(ctx, observation(program, got, expected), 1e-6)
    if mistake is not None:
        verdict = _named(ctx, Outcome.WRONG, message, mistake.name)
    else:
        verdict = Verdict(Outcome.BAD_OUTPUT, message)
    raise fail(
        verdict.outcome,
        _with_listing(verdict, program).message,
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
    node = int(first.name[1:].split(".")[0])
    return _with_listing(verdict, program, _where(program, node), *extra)


def judge_graph(ctx: Context, program: Program, seen: replay.Seen, tol: float) -> Verdict:
    """The student's data and grads of every node against the reference engine's."""
    nodes = engines.run(ctx.ref, program)
    data = [np.array(n.data) for n in nodes]
    expected = [np.array(n.grad) for n in nodes]
    wrong = _data_verdict(program, seen.data, data, tol)
    if wrong is not None:
        return wrong
    got = _grads(ctx, program, seen.grads, expected)
    if _close(got, expected, tol):
        return PASS
    order = list(reversed(range(program.size)))  # from the output back
    names = _grad_names(program)
    comparisons = compare_outputs(
        [names[i] for i in order], [got[i] for i in order], [expected[i] for i in order], tol
    )
    return grad_verdict(ctx, program, got, expected, comparisons, tol, "the reference engine")


def _named_fault(ctx: Context, program: Program, fault: StudentFault) -> Exception:
    """numpy's "non-broadcastable output operand" in a backward pass is an in-place
    ``grad += g`` with g of a broadcast shape: a failure naming the gradient not summed back to
    its input's shape. Any other fault is returned as it is."""
    text = fault.reason
    if fault.outcome != "exception" or "non-broadcastable output operand" not in text:
        return fault
    message = (
        f"{_title(program)}: {text}\n  a contribution of the broadcast shape was added into a "
        "smaller grad (a number or array operand, such as the -1 of -y, is a constant leaf "
        "Value whose grad has its own shape too)"
    )
    verdict = _with_listing(_named(ctx, Outcome.EXCEPTION, message, NO_UNBROADCAST), program)
    return fail(verdict.outcome, verdict.message, staff=fault.staff, misconception=NO_UNBROADCAST)


def _replay(ctx: Context, programs: Sequence[Program], reads: str = "all") -> list[replay.Seen]:
    try:
        return replay.run(ctx, programs, reads)
    except StudentFault as fault:
        raise _named_fault(ctx, programs[0], fault) from None


def _run_one(ctx: Context, program: Program) -> replay.Seen:
    return _replay(ctx, [program])[0]


# -- bodies --------------------------------------------------------------------------------------
def against_reference(make: Make, tol: float = 1e-7) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        return judge_graph(ctx, program, _run_one(ctx, program), tol)

    return body


def law(make: Make, text: str, want: Callable[[Program], dict[int, np.ndarray]]) -> Body:
    """The grads of some nodes must equal ``want(program)`` (a local rule of the course notes)."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        seen = _run_one(ctx, program)
        nodes = engines.run(ctx.ref, program)
        expected = [np.array(n.grad) for n in nodes]
        got = _grads(ctx, program, seen.grads, expected)
        wanted = want(program)
        comparisons = [
            relative_error(f"n{i}.grad", got[i], w, 1e-12)
            for i, w in sorted(wanted.items(), reverse=True)
        ]
        if all(c.ok for c in comparisons):
            return PASS
        seen_obs = observation(program, got, expected)
        verdict = mismatch_verdict(ctx, seen_obs, comparisons, 1e-12, "the rule")
        return _with_listing(verdict, program, f"the rule: {text}")

    return body


def _flat(program: Program) -> np.ndarray:
    return np.concatenate([x.ravel() for x in program.leaves])


def _unflat(program: Program, theta: np.ndarray) -> list[np.ndarray]:
    out, at = [], 0
    for x in program.leaves:
        out.append(theta[at : at + x.size].reshape(x.shape))
        at += x.size
    return out


def numeric(make: Make, mode: str, directions: int = 4, tol: float = 1e-6) -> Body:
    """The student's leaf grads against the numeric gradient of sum(upstream * output) of the
    student's own forward pass (every perturbed copy replayed side by side)."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        seen = _run_one(ctx, program)
        nodes = engines.run(ctx.ref, program)
        expected = [np.array(n.grad) for n in nodes]
        got = _grads(ctx, program, seen.grads, expected)
        step = program.steps[0]
        upstream = np.ones(program.shapes[-1]) if step.grad is None else step.grad

        def evaluate(points: list[np.ndarray]) -> list[float]:
            copies = [program.with_leaves(_unflat(program, p)).with_steps(()) for p in points]
            values = []
            for s in replay.run(ctx, copies, reads="root"):
                out = replay.array(s.data[0], upstream.shape, f"n{program.root}.data")
                if out.shape != upstream.shape:
                    raise fail(
                        Outcome.BAD_OUTPUT,
                        f"n{program.root}.data changed shape for perturbed leaves",
                    )
                values.append(float(np.sum(upstream * out)))
            return values

        theta = _flat(program)
        analytic = np.concatenate([got[i].ravel() for i in range(len(program.leaves))])
        if mode == "elementwise":
            found = numgrad.elementwise(evaluate, theta, H)
            parts = zip(_unflat(program, analytic), _unflat(program, found.values))
            comparisons = [
                gradient_error(f"n{i}.grad", a, n, tol, found.roundoff)
                for i, (a, n) in enumerate(parts)
            ]
        else:
            dirs = numgrad.random_directions(ctx.rng, theta.shape, directions)
            found = numgrad.directional(evaluate, theta, dirs, H)
            along = dirs @ analytic
            comparisons = [
                gradient_error(
                    f"the leaves' grads along {directions} random directions",
                    along,
                    found.values,
                    tol,
                    found.roundoff,
                )
            ]
        return grad_verdict(
            ctx,
            program,
            got,
            expected,
            comparisons,
            tol,
            "the numeric gradient of your own forward pass",
            ADVICE,
        )

    return body


# -- single properties ---------------------------------------------------------------------------
def construction(ctx: Context) -> Verdict:
    """Value(int array), Value(nested list), Value(float): float64 data, zero grad."""
    ints = ctx.rng.integers(-5, 6, (3, 4))
    nested = np.round(ctx.rng.uniform(-2, 2, (2, 3)), 3)
    number = round(float(ctx.rng.uniform(-3, 3)), 3)
    cases = [
        ("Value(int64 array (3, 4))", ints),
        ("Value(nested list 2x3)", nested.tolist()),
        (f"Value({number})", number),
    ]
    replies = ctx.student.batch([Call("Value", (c,), keep="all") for _, c in cases])
    handles = []
    for (text, _), reply in zip(cases, replies):
        if not isinstance(reply.value, Handle):
            return Verdict(Outcome.BAD_OUTPUT, f"{text} did not produce an object")
        handles.append(reply.value)
    reads = ctx.student.batch([replay.read(h, a) for h in handles for a in ("data", "grad")])
    for k, (text, c) in enumerate(cases):
        want = np.array(c, dtype=np.float64)
        data = replay.array(reads[2 * k].value, want.shape, f"{text}.data")
        grad = replay.array(reads[2 * k + 1].value, want.shape, f"{text}.grad")
        if data.shape != want.shape or not np.array_equal(data, want):
            return Verdict(
                Outcome.WRONG,
                f"{text}.data should be np.array(data, dtype=np.float64), of shape "
                f"{want.shape} with the same values; got shape {data.shape}",
            )
        if grad.shape != want.shape or np.any(grad != 0):
            return Verdict(
                Outcome.WRONG,
                f"{text}.grad should be zeros of data's shape {want.shape} before any backward()",
            )
    return PASS


def nonscalar_needs_grad(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        handles = replay.build(ctx, [program])[0]
        text = f"n{program.root}.backward() on an output of shape {program.shapes[-1]}"
        try:
            ctx.student.call(Call("backward", (), target=handles[-1]))
        except StudentFault as fault:
            if fault.outcome == "exception" and "raised ValueError" in fault.reason:
                return PASS
            if fault.outcome != "exception":
                raise
            return Verdict(Outcome.WRONG, f"{text}: {fault.reason}; expected ValueError")
        return Verdict(
            Outcome.WRONG,
            f"{text} returned without an error: without grad, the seed is ones only for a "
            "scalar output; raise ValueError for a non-scalar one (pass grad instead)",
        )

    return body


def leaves_unchanged(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        seen = _run_one(ctx, program)
        for i, x in enumerate(program.leaves):
            data = replay.array(seen.data[i], x.shape, f"n{i}.data")
            if data.shape != x.shape or not np.array_equal(data, x):
                return _with_listing(
                    Verdict(
                        Outcome.WRONG,
                        f"{_title(program)}: n{i}.data (a leaf) changed during the forward "
                        "and backward passes; operations must return new Values and never "
                        "modify data in place",
                    ),
                    program,
                )
        return PASS

    return body


def two_graphs(make: Make) -> Body:
    """The same program built twice from fresh leaves: backward on both, then both read. The
    grads must agree (to roundoff) and match the reference: no state shared between graphs."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        first, second = replay.build(ctx, [program, program])
        calls = [replay.step_call(s, h[-1]) for h in (first, second) for s in program.steps]
        calls += [replay.read(h, "grad") for h in first + second]
        try:
            replies = ctx.student.batch(calls)[len(program.steps) * 2 :]
        except StudentFault as fault:
            raise _named_fault(ctx, program, fault) from None
        values = [r.value for r in replies]
        nodes = engines.run(ctx.ref, program)
        expected = [np.array(n.grad) for n in nodes]
        a = _grads(ctx, program, values[: program.size], expected)
        b = _grads(ctx, program, values[program.size :], expected)
        for i in range(program.size):
            cmp = relative_error(f"n{i}.grad", b[i], a[i], 1e-12)
            if not cmp.ok:
                return _with_listing(
                    Verdict(
                        Outcome.WRONG,
                        f"{_title(program)}, built twice from fresh leaves with one "
                        f"backward() each: the two graphs disagree on n{i}.grad (state shared "
                        f"between Values? a class attribute?).\n  {cmp.describe()}",
                    ),
                    program,
                )
        names = _grad_names(program)
        comparisons = compare_outputs(names[::-1], a[::-1], expected[::-1], 1e-7)
        return grad_verdict(ctx, program, a, expected, comparisons, 1e-7, "the reference engine")

    return body
