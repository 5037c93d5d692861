"""The autograd checks catch realistic bugs: each mutant of solutions/autograd.py loses points on
the function it breaks (unbroadcast's bugs show in Value too, which calls it), and where the bug
is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics.autograd import engines as e

ACCUMULATE = "parent.grad = np.asarray(parent.grad + unbroadcast(g, parent.data.shape))"
LOOP = """        for node in reversed(self.topological_order()):
            for parent, g in zip(node._parents, node._backward(node.grad)):
                parent.grad = np.asarray(parent.grad + unbroadcast(g, parent.data.shape))
"""
APPLY = """for parent, g in zip(node._parents, node._backward(node.grad)):
                parent.grad = np.asarray(parent.grad + unbroadcast(g, parent.data.shape))"""
# breadth-first from the output: a node can run before all of its consumers have
BFS = f"""        queue, seen = [self], {{id(self)}}
        for node in queue:
            {APPLY}
            for parent in node._parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
"""
# the naive recursion: each node's rule runs once per path to it
PER_PATH = f"""        def visit(node):
            {APPLY}
            for parent in node._parents:
                visit(parent)

        visit(self)
"""
ZERO = "node.grad = np.zeros_like(node.data)"


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("autograd", function, old, new, misconception)


MUTANTS = [
    # named mistakes
    mutant("Value", ACCUMULATE, "parent.grad = unbroadcast(g, parent.data.shape)", e.OVERWRITTEN),
    mutant("Value", LOOP, BFS, e.NO_TOPO),
    mutant("Value", LOOP, PER_PATH, e.NO_TOPO),
    mutant("Value", "reversed(self.topological_order())", "self.topological_order()", e.NO_TOPO),
    mutant("Value", ACCUMULATE, "parent.grad = np.asarray(parent.grad + g)", e.NO_UNBROADCAST),
    mutant("Value", ACCUMULATE, "parent.grad += g", e.NO_UNBROADCAST),
    mutant("Value", "        self.grad = seed\n", "", e.NO_SEED),
    mutant(
        "Value",
        "seed = np.array(grad, dtype=np.float64)",
        "seed = np.ones_like(self.data)",
        e.UPSTREAM_IGNORED,
    ),
    mutant(
        "Value",
        f"for node in self.topological_order():\n            {ZERO}",
        "self.grad = np.zeros_like(self.data)",
        e.NO_ZERO_GRAD,
    ),
    mutant(
        "Value",
        f"for node in self.topological_order():\n            {ZERO}",
        "pass",
        e.NO_ZERO_GRAD,
    ),
    mutant(
        "Value",
        "(g * other.data, g * self.data)",
        "(g * self.data, g * other.data)",
        e.MUL_NOT_SWAPPED,
    ),
    mutant("Value", "(g * (1.0 - out.data**2),)", "(g * (1.0 - self.data**2),)", e.TANH_AT_INPUT),
    mutant("Value", "(g * (self.data > 0),)", "(g,)", e.RELU_EVERYWHERE),
    # edges: a grad of the wrong shape accepted; a raw ndarray operand of matmul not lifted
    mutant(
        "Value",
        "        if seed.shape != self.data.shape:\n",
        "        if seed.ndim != self.data.ndim:\n",
        e.GRAD_SHAPE_UNCHECKED,
    ),
    mutant(
        "Value",
        "        other = Value._lift(other)\n        out = Value(self.data @",
        "        out = Value(self.data @",
    ),
    # other realistic bugs
    mutant("Value", "(g * (self.data > 0),)", "(g * (self.data >= 0),)"),
    mutant("Value", "(g * n * self.data ** (n - 1),)", "(g * n * self.data**n,)"),
    mutant("Value", "(g / self.data,)", "(g * self.data,)"),
    mutant("Value", "(g * out.data,)", "(g * self.data,)"),
    mutant("Value", "(g @ other.data.T, self.data.T @ g)", "(g @ other.data.T, g.T @ self.data)"),
    mutant("Value", "kept = g if keepdims else np.expand_dims(g, axes)", "kept = g"),
    # a node listed once per path to it: its rule runs again, as in the per-path recursion
    mutant("Value", "            if id(node) in seen:\n                continue\n", "", e.NO_TOPO),
    mutant("Value", "self.data = np.array(data, dtype=np.float64)", "self.data = np.array(data)"),
    mutant("Value", "            if self.data.size != 1:\n", "            if False:\n"),
    mutant(
        "Value",
        f"for node in self.topological_order():\n            {ZERO}",
        f"for node in self.topological_order():\n            if not node._parents:\n"
        f"                {ZERO}",
    ),
    mutant("unbroadcast", "out.sum(axis=stretched, keepdims=True)", "out.sum(axis=stretched)"),
    mutant("unbroadcast", "        out = out.sum(axis=tuple(range(extra)))\n", "        pass\n"),
    mutant(
        "unbroadcast",
        "out.sum(axis=stretched, keepdims=True)",
        "out.mean(axis=stretched, keepdims=True)",
    ),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    callers = {"Value"} if mutant.function == "unbroadcast" else set()
    assert_caught(course, tmp_path, mutant, callers)


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in e.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"
