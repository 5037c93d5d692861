"""Checks that a trivial or wrong function cannot pass: gradient checks need a right forward,
laws need finite outputs, and laws, hygiene and degenerate cases need the function right at its
anchor (``grader.checks.anchor``)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from mutation import Mutant, grade_mutant, mutate

from grader import registry
from grader.checks import anchor
from grader.checks.anchor import anchor_of, degenerate
from grader.checks.base import PASS, Kind
from grader.pipeline import grade_topic, sandbox_for

AFFINE_OUT = "    out = x.reshape(x.shape[0], -1).dot(w) + b\n"


def _by_id(results):
    return {r.check_id: r for r in results}


def test_an_all_inf_output_is_not_linear(course, tmp_path):
    mutant = Mutant(
        "backprop", "affine_forward", AFFINE_OUT, AFFINE_OUT + "    out = out * np.inf\n"
    )
    result = _by_id(grade_mutant(course, tmp_path, mutant))["backprop/affine_forward: linear in x"]
    assert not result.passed
    assert "checked on finite outputs only" in result.message


def test_a_zero_forward_with_a_zero_backward_earns_no_gradient_points(course, tmp_path):
    mutant = Mutant(
        "backprop",
        "relu_backward",
        "dx = dout * (x > 0)",
        "dx = 0.0 * dout",
    )
    forward = Mutant("backprop", "relu_forward", "out = np.maximum(0, x)", "out = 0.0 * x")
    source = (course.solutions_dir / "backprop.py").read_text()
    path = tmp_path / "backprop.py"
    path.write_text(mutate(mutate(source, mutant), forward))
    results, _ = grade_topic(course, "backprop", path, None, sandbox_for(course))
    gradient = [r for r in results if r.function == "relu_backward" and r.kind == "gradient"]
    assert gradient and not any(r.passed for r in gradient)
    for r in gradient:
        assert "relu_forward is wrong on the inputs of this gradient check" in r.message
        assert "does not match your forward" not in r.message  # zeros are consistent
    laws = [
        r for r in results if r.function == "relu_forward" and r.kind in ("property", "hygiene")
    ]
    assert laws and not any(r.passed for r in laws)
    assert all("this check counts only when relu_forward" in r.message for r in laws)


def test_a_wrong_backward_of_a_wrong_forward_is_told_both(course, tmp_path):
    source = (course.solutions_dir / "backprop.py").read_text()
    wrong = mutate(
        source, Mutant("backprop", "relu_forward", "out = np.maximum(0, x)", "out = 2.0 * x")
    )
    path = tmp_path / "backprop.py"
    path.write_text(wrong)
    results, _ = grade_topic(course, "backprop", path, None, sandbox_for(course))
    numeric = _by_id(results)["backprop/relu_backward: numeric gradient, elementwise"]
    assert not numeric.passed
    assert "relu_forward is wrong" in numeric.message
    assert "your backward does not match your forward" in numeric.message


def test_every_gated_function_has_an_anchor_or_says_why():
    """Functions without an anchor are not gated: only those listed here, each for a reason."""
    unanchored = {
        (spec.name, f)
        for spec in registry.topics()
        for f in spec.functions
        if anchor_of(spec.name, f) is None
        and any(c.function == f and c.kind is not Kind.REFERENCE for c in spec.checks)
    }
    reasons = {
        # statistical laws of a random initialiser (std within 20%, mean near 0, seeding):
        # no constant, echo or fixed draw obeys them
        ("backprop", "xavier_init"),
        ("backprop", "kaiming_init"),
        # gated on dropout_forward's anchor (its laws use the student's own mask)
        ("dropout", "dropout_backward"),
        # gated on forward_and_grads' anchor; the others compare the student's nets and
        # optimizers with the reference's inside their bodies
        ("frameworks", "TwoLayerTorchNet"),
        ("frameworks", "load_weights"),
        ("frameworks", "replace_head"),
        ("frameworks", "head_optimizer"),
    }
    gpu_only = {
        (t, f)
        for t, f in unanchored
        if {c.kind for c in registry.topic(t).checks if c.function == f} == {Kind.GPU}
    }
    assert unanchored - gpu_only == reasons


def test_an_anchor_is_a_plain_comparison_or_declared():
    for spec in registry.topics():
        for f in spec.functions:
            anchor = anchor_of(spec.name, f)
            if anchor is not None:
                assert not anchor.hidden
                assert anchor.kind is Kind.REFERENCE or getattr(anchor, "is_anchor", False)
                assert not getattr(anchor, "degenerate", False)


def test_degenerate_names_only_existing_cases():
    checks = list(registry.topic("losses").checks[:3])
    marked = degenerate(checks, checks[1].case)
    assert [getattr(c, "degenerate", False) for c in marked] == [False, True, False]
    assert marked[1] == replace(checks[1], degenerate=True)
    with pytest.raises(ValueError, match="no check named"):
        degenerate(checks, "no such case")


def test_an_anchor_is_remembered_after_the_registry_builds_its_topic_again():
    """The registry's topics built again (its cache cleared, as tests/test_conformance.py does):
    the anchor is one of the checks now run, so its verdict, recorded when it runs, is reused
    by the checks it gates, not computed again in each of them (with other inputs)."""
    before = anchor_of("losses", "svm_loss_naive")
    registry.topic.cache_clear()
    spec = registry.topic("losses")
    now = anchor_of("losses", "svm_loss_naive")
    assert now.id == before.id and any(c is now for c in spec.checks)
    ctx = SimpleNamespace(student=_Student())  # no worker: computing the anchor would fail
    own = replace(PASS, message="the anchor's own verdict")
    assert anchor.record(ctx, now, own) is own
    assert anchor.anchor_verdict(ctx, "losses", "svm_loss_naive") == (now, own)


class _Student:
    """A graded module's stand-in: the anchors' verdicts are kept per module (weakly)."""
