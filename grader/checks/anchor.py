"""No points for a law a trivial function obeys: checks gated on one reference comparison.

A constant is non-negative and idempotent, zeros are translation equivariant, a function that
returns its input is odd, an optimizer that never moves is scale invariant, and any function
leaves its inputs alone and is deterministic. Such checks (property and hygiene checks, and
reference comparisons on a degenerate case whose answer is trivial: ``K=1``, sparsity 1, every
position masked) earn their points only when the function is also right at its **anchor**: the
first visible check of the function that compares it with the reference (kind ``reference``).

The anchor's verdict is computed once per graded module (the anchor usually runs first in the
topic's order and records it) and reused, so gating costs a dictionary look-up, not a call.
A check that fails on its own keeps its own verdict; a check that passes but whose function is
wrong at the anchor gets the anchor's verdict, prefixed with why. A function wrong at the anchor
by a known, named mistake (a real implementation with one bug, whose feedback already names it)
keeps the points of the laws it does obey: what earns nothing is a function wrong there for no
known reason, trivial impostors among them.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any

from grader.checks.base import Context, Kind, Verdict

# graded module (a StudentModule) -> anchor check id -> its verdict for that module
_SEEN: weakref.WeakKeyDictionary[Any, dict[str, Verdict]] = weakref.WeakKeyDictionary()


# topic -> (the registry's spec of it, function -> its anchor check): worked out again when the
# registry builds the topic again (its cache cleared), so an anchor is always one of the checks
# being run, which ``record`` recognises by identity
_ANCHORS: dict[str, tuple[Any, dict[str, Any]]] = {}


def anchor_of(topic: str, function: str) -> Any | None:
    """The anchor check of ``function``: the check its topic declared the anchor
    (``is_anchor``), else its first visible check that may be one (``anchor_ok``: a plain
    reference comparison); None when the function has none (its checks are then not gated)."""
    from grader import registry  # the registry imports the topics, which import the checks

    spec = registry.topic(topic)
    kept = _ANCHORS.get(topic)
    if kept is None or kept[0] is not spec:
        kept = _ANCHORS[topic] = (spec, _anchors(spec.checks))
    return kept[1].get(function)


def _anchors(checks: tuple) -> dict[str, Any]:
    candidates: dict[str, list] = {}
    for c in checks:
        if not c.hidden and getattr(c, "anchor_ok", False):
            candidates.setdefault(c.function, []).append(c)
    return {  # the one the topic declared (``is_anchor``), else the first
        fn: next((c for c in found if getattr(c, "is_anchor", False)), found[0])
        for fn, found in candidates.items()
    }


def record(ctx: Context, check: Any, verdict: Verdict) -> Verdict:
    """Remember ``verdict`` of ``check`` for this module when it is its function's anchor."""
    if anchor_of(check.topic, check.function) is check:
        _store(ctx.student)[check.id] = verdict
    return verdict


def _store(student: Any) -> dict[str, Verdict]:
    try:
        return _SEEN.setdefault(student, {})
    except TypeError:  # not weak-referenceable (a test double): no memory
        return {}


def anchor_verdict(ctx: Context, topic: str, function: str) -> tuple[Any, Verdict] | None:
    """(anchor check, its verdict for the student), None when ``function`` has no anchor."""
    anchor = anchor_of(topic, function)
    if anchor is None:
        return None
    store = _store(ctx.student)
    if anchor.id not in store:
        from grader.checks.base import CheckFailed
        from grader.judge.student import StudentFault

        try:
            verdict = anchor.evaluate(ctx)
        except CheckFailed as failed:
            verdict = failed.verdict
        except StudentFault as fault:
            from grader.checks.base import Outcome

            verdict = Verdict(Outcome(fault.outcome), fault.reason, staff=fault.staff)
        store[anchor.id] = verdict
    return anchor, store[anchor.id]


def gate(ctx: Context, check: Any, verdict: Verdict) -> Verdict:
    """``verdict`` if it failed, or if ``check``'s function is right at its anchor (or wrong there
    by a named mistake); else the anchor's failure, saying that this check counts only for a
    function right there."""
    if not verdict.passed or getattr(check, "anchor_ok", False):
        return verdict
    function = getattr(check, "anchor_function", None) or check.function
    found = anchor_verdict(ctx, check.topic, function)
    if found is None or found[1].passed or found[1].misconception:
        return verdict
    anchor, failed = found
    message = (
        f"{check.function}: this check counts only when {function} is also right on the "
        f"case '{anchor.case}', and there it is not:\n{failed.message}"
    )
    return replace(failed, message=message, warnings=(*failed.warnings, *verdict.warnings))


class Gated:
    """Mixin of a check declaration that defines ``evaluate(ctx)`` (its own verdict): ``run``
    records it when the check is its function's anchor and gates it otherwise. A check of kind
    ``reference`` may be an anchor unless it sets ``degenerate``."""

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, record(ctx, self, self.evaluate(ctx)))  # type: ignore[attr-defined]

    @property
    def anchor_ok(self) -> bool:
        return self.kind is Kind.REFERENCE and not getattr(self, "degenerate", False)  # type: ignore[attr-defined]


def degenerate(checks: list, *cases: str) -> list:
    """``checks`` with the named cases declared ``degenerate``: reference comparisons whose
    answer a trivial function gives (0 bytes for one worker, the input itself for one
    checkpoint), so they count only when the function is right at its anchor."""
    found = {c.case for c in checks}
    missing = [case for case in cases if case not in found]
    if missing:
        raise ValueError(f"no check named {missing} to declare degenerate")
    return [replace(c, degenerate=True) if c.case in cases else c for c in checks]
