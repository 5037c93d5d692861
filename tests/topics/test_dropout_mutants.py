"""The dropout checks catch realistic bugs: each mutant of solutions/dropout.py loses points on
the function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics import dropout as d

MASK = "mask = (np.random.rand(*x.shape) < p) / p"


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("dropout", function, old, new, misconception)


RESEED = '    if "seed" in dropout_param:\n        np.random.seed(dropout_param["seed"])\n'
MUTANTS = [
    # edges: unseeded calls
    mutant(d.FORWARD, RESEED, '    np.random.seed(dropout_param.get("seed", 0))\n', d.RESEEDED),
    # edges: an unknown mode
    mutant(
        d.FORWARD,
        """    elif mode == "test":
        out = x.copy()
    else:
        raise ValueError(f'invalid dropout mode "{mode}"; expected "train" or "test"')
""",
        "    else:\n        out = x.copy()\n",
        d.MODE_UNCHECKED,
    ),
    # named mistakes
    mutant(d.FORWARD, MASK, "mask = np.random.rand(*x.shape) < p", d.NOT_INVERTED),
    mutant(d.FORWARD, "out = x.copy()", "out = x * p", d.NOT_INVERTED),
    mutant(d.FORWARD, MASK, "mask = (np.random.rand(*x.shape) > p) / (1 - p)", d.P_AS_DROP),
    mutant(d.FORWARD, MASK, "mask = (np.random.rand(*x.shape) < 1 - p) / (1 - p)", d.P_AS_DROP),
    mutant(d.BACKWARD, "return dout * mask", "return dout * (mask != 0)", d.NOT_INVERTED),
    mutant(
        d.BACKWARD,
        "return dout * mask",
        'return dout * (mask != 0) / (1 - dropout_param["p"])',
        d.P_AS_DROP,
    ),
    # other realistic bugs
    mutant(
        d.FORWARD, "    out = out.astype(x.dtype, copy=False)\n", ""
    ),  # float64 mask: float64 out
    mutant(d.FORWARD, 'np.random.seed(dropout_param["seed"])', "np.random.seed(0)"),
    mutant(d.FORWARD, '    if "seed" in dropout_param:\n', "    if False:\n"),
    mutant(d.FORWARD, MASK, "mask = (np.random.rand(*x.shape) < p) * p"),
    mutant(d.FORWARD, MASK, "mask = (np.random.randn(*x.shape) < p) / p"),
    mutant(d.BACKWARD, 'if dropout_param["mode"] == "train":\n        ', "if True:\n        "),
    mutant(
        d.BACKWARD,
        "return dout * mask",
        'return dout * (np.random.rand(*dout.shape) < dropout_param["p"]) / dropout_param["p"]',
    ),
]
# the right law, drawn another way than CS231n: graded by its own test, below
OTHER_DRAW = mutant(d.FORWARD, MASK, "mask = (np.random.rand(*x.shape) > 1 - p) / p")
MUTANTS.append(OTHER_DRAW)


@pytest.mark.parametrize(
    "mutant", [mu for mu in MUTANTS if mu is not OTHER_DRAW], ids=lambda mu: mu.label
)
def test_mutant_is_caught(course, tmp_path, mutant):
    # the backward pass uses the forward's mask: a forward bug may show there too
    callers = {d.BACKWARD} if mutant.function == d.FORWARD else set()
    assert_caught(course, tmp_path, mutant, callers)


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in d.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"


def test_a_mask_drawn_another_way_fails_only_the_reference_mask_check(course, tmp_path):
    """rand(...) > 1 - p keeps each unit with probability p, as required, but is not CS231n's
    draw: only the low-weight "same mask as the reference" check may fail."""
    results = assert_caught(course, tmp_path, OTHER_DRAW)
    failed = [r.check_id for r in results if not r.passed]
    assert failed == [
        "dropout/dropout_forward: same mask as the reference for a given seed (CS231n draw)"
    ]
