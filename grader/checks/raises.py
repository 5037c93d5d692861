"""A student call that a docstring says must raise ValueError (an unknown layer type, a kernel
larger than its input, a gradient of the wrong shape, an invalid mode)."""

from __future__ import annotations

from grader.checks.base import PASS, Context, Outcome, Verdict
from grader.judge.student import Call, StudentFault


def expect_value_error(
    ctx: Context, call: Call, text: str, advice: str, mistake: tuple[str, str] | None = None
) -> Verdict:
    """PASS when ``call`` raises ValueError (a subclass's name does not count: the docstrings
    say ValueError); WRONG when it returns, or raises another exception (a ZeroDivisionError
    while building the message, a KeyError, ...). Other faults (not implemented, timeout,
    crash) propagate and are reported as such. ``text`` describes the call; ``advice`` says what
    the docstring asks for; ``mistake`` (name, hint) is the known mistake named when the call
    returned normally (the check alone recognises it: there is no output to match)."""
    try:
        ctx.student.call(call)
    except StudentFault as fault:
        if fault.outcome != "exception":
            raise
        if fault.reason.startswith(f"{call.fn} raised ValueError:"):
            return PASS
        raised = fault.reason[len(call.fn) + 1 :] if fault.reason.startswith(call.fn) else ""
        return Verdict(
            Outcome.WRONG,
            f"{text}: expected ValueError, but it {raised or fault.reason}\n  {advice}",
            staff=fault.staff,
        )
    message = f"{text} returned normally; expected ValueError.\n  {advice}"
    if mistake is None:
        return Verdict(Outcome.WRONG, message)
    name, hint = mistake
    return Verdict(
        Outcome.WRONG,
        f"{message}\n  looks like a known mistake: {name}. Hint: {hint}",
        misconception=name,
    )
