"""ken's cnn_architectures.py (examples/submissions/ken): three known mistakes.

- layer_param_count forgets the biases of conv and fc layers; his network_summary, which
  calls it, inherits the mistake (LeNet-5 to ResNet-50 all come out short, by their biases);
- inception_module leaves the pool branch out of the output channels;
- residual_block_forward adds the shortcut after the final ReLU, and residual_block_backward
  differentiates that (only the main path goes through the ReLU).
conv_output_size, layer_output_shape, layer_macs, receptive_fields and bottleneck_cost are
correct and pass every check. Every failing check of a buggy function names its mistake, apart
from hidden checks, whose feedback says only "hidden check: failed".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.cnn_architectures import mistakes as m

STUDENT = "ken"
KEN = (
    Path(__file__).resolve().parents[2]
    / "examples"
    / "submissions"
    / STUDENT
    / "cnn_architectures.py"
)
MISTAKES = {
    "layer_param_count": m.BIAS_FORGOTTEN,
    "network_summary": m.BIAS_FORGOTTEN,
    "inception_module": m.POOL_BRANCH,
    "residual_block_forward": m.AFTER_RELU,
    "residual_block_backward": m.AFTER_RELU,
}
CORRECT = (
    "conv_output_size",
    "layer_output_shape",
    "layer_macs",
    "receptive_fields",
    "bottleneck_cost",
)


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "cnn_architectures", KEN, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function, mistake", sorted(MISTAKES.items()))
def test_each_mistake_is_named_where_it_is(results, function, mistake):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed), [r.outcome for r in failed]
    visible = [r for r in failed if ": hidden: " not in r.check_id]
    assert visible and {r.misconception for r in visible} == {mistake}, [
        (r.check_id, r.misconception) for r in visible
    ]
    for r in visible:
        assert f"looks like a known mistake: {mistake}. Hint: " in r.message, r.message


@pytest.mark.parametrize("function", CORRECT)
def test_correct_functions_pass(results, function):
    mine = [r for r in results if r.function == function]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]


def test_the_famous_counts_say_what_is_missing(results):
    """VGG-16 without its 13,416 biases: the feedback leads with the total."""
    check = next(
        r
        for r in results
        if r.check_id == "cnn_architectures/network_summary: VGG-16: 138,357,544 parameters, "
        "15.5 GMACs"
    )
    assert "summary['total_params'] differs from the reference" in check.message
    assert "yours 1.38344e+08, expected 1.38358e+08" in check.message
    assert "(36 layers), in_shape=(3, 224, 224)" in check.message


def test_the_block_gradient_checks_say_his_forward_is_wrong(results):
    """ken's backward pass is right for the block he wrote, but that block is wrong: the
    numeric-gradient checks, which compare with his own forward pass, earn nothing and say
    that the forward is the problem, not the backward."""
    numeric = [
        r for r in results if r.function == "residual_block_backward" and "numeric" in r.check_id
    ]
    assert len(numeric) == 3 and not any(r.passed for r in numeric)
    for r in numeric:
        assert "residual_block_forward is wrong on the inputs of this gradient" in r.message
        assert "does not match your forward" not in r.message
