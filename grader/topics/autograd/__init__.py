"""Topic ``autograd``: a small reverse-mode engine, a ``Value`` class over float64 arrays with
broadcasting, graded through handles, and ``unbroadcast``.

Declarations only. The parts beside this module: ``programs`` (the judge's programs: leaves,
operations over node indices and the steps run on the output, drawn from the check's rng),
``replay`` (a program replayed on the student's Value in the worker: one batch per level of the
graph), ``engines`` (the same program on the reference engine and on mistaken variants of it:
the known mistakes), ``verdicts`` (what a program left in the student's Value, judged and
localised) and ``laws`` (the check bodies).

Conventions (the solution's docstrings): ``Value(data)`` stores a float64 copy, ``.grad`` has
data's shape and is zeros until backward; ``backward()`` seeds ones and needs a scalar output,
``backward(grad)`` seeds grad; contributions are added, in reverse topological order, summed
back to each input's shape; gradients accumulate across passes and ``zero_grad()`` on the
output resets its whole graph. A numpy scalar read back stands for a 0-d array (numpy turns
0-d results into scalars). Tolerances: 1e-7 relative on single operations, on the graphs as on
every other topic's reference checks; 1e-5 against numeric gradients of random programs (their
curvature is not bounded as a layer's is); 1e-12 for the laws of add, mul and relu.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.checks.anchor import degenerate
from grader.checks.base import Check, Kind
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.topics.autograd import laws
from grader.topics.autograd.engines import MISCONCEPTIONS
from grader.topics.autograd.programs import (
    Make,
    Op,
    Program,
    finish,
    fixed,
    leaf,
    random_program,
)

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "autograd"
SUMMARY = (
    "a reverse-mode `Value` engine graded through handles on random programs replayed against "
    "the reference (shared nodes, broadcasting, 30-op chains)"
)
WORKER_SETUP = ""
FUNCTIONS = ("unbroadcast", "Value")
UB, V = "unbroadcast", "Value"
REF = Kind.REFERENCE


# -- unbroadcast ---------------------------------------------------------------------------------
def _ub(
    grad_shape: tuple[int, ...], shape: tuple[int, ...]
) -> Callable[[np.random.Generator], tuple]:
    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal(grad_shape), shape

    return make


def _unbroadcast_checks() -> list[Check]:
    cases = [
        ("(3, 4) to (3, 1)", (3, 4), (3, 1), False),
        ("(3, 4) to (1, 4)", (3, 4), (1, 4), False),
        ("(2, 3, 4) to (3, 4): a leading axis", (2, 3, 4), (3, 4), False),
        ("(2, 3, 4) to (3, 1)", (2, 3, 4), (3, 1), False),
        ("(3, 4) to (): a scalar", (3, 4), (), False),
        ("(2, 1, 4) to (1, 1, 4)", (2, 1, 4), (1, 1, 4), False),
        ("(3, 4) to (3, 4): unchanged", (3, 4), (3, 4), False),
        ("(4, 5, 6) to (5, 1)", (4, 5, 6), (5, 1), True),
        ("(2, 3, 4, 5) to (1, 4, 1)", (2, 3, 4, 5), (1, 4, 1), True),
    ]
    found: list[Check] = [
        Reference(TOPIC, UB, name, _ub(g, s), ("out",), hidden=hidden)
        for name, g, s, hidden in cases
    ]
    found += [
        NoMutation(TOPIC, UB, "inputs unchanged", _ub((2, 3, 4), (3, 1)), ("out",)),
        Deterministic(TOPIC, UB, "deterministic", _ub((3, 4), (1, 4)), ("out",)),
    ]
    return degenerate(found, "(3, 4) to (3, 4): unchanged")


# -- Value ---------------------------------------------------------------------------------------
def op(method: str, *inputs: int, consts: tuple = (), **kwargs: object) -> Op:
    return Op(method, inputs, consts, tuple(kwargs.items()))


def _wanted_add(p: Program) -> dict[int, np.ndarray]:
    g = p.steps[0].grad
    return {0: g, 1: g, 2: g}


def _wanted_mul(p: Program) -> dict[int, np.ndarray]:
    g = p.steps[0].grad
    return {0: g * p.leaves[1], 1: g * p.leaves[0], 2: g}


def _wanted_relu(p: Program) -> dict[int, np.ndarray]:
    g = p.steps[0].grad
    return {0: g * (p.leaves[0] > 0), 1: g}


def _relu_at_zero(rng: np.random.Generator) -> tuple[Program]:
    """relu on x (4, 5) with zeros in x: its gradient there is 0 (x > 0 only)."""
    x = leaf(rng, (4, 5))
    x.flat[rng.choice(x.size, 6, replace=False)] = 0.0
    return (finish([x], [op("relu", 0)], rng),)


def _laws() -> list[Check]:
    two = [(3, 4), (3, 4)]
    return [
        Property(
            TOPIC,
            V,
            "Value(ints), Value(list), Value(float): float64 data, zero grad",
            laws.construction,
        ),
        Property(
            TOPIC,
            V,
            "add passes the upstream gradient unchanged to both inputs",
            laws.law(
                fixed(two, [op("__add__", 0, 1)]),
                "d(a+b)/da = d(a+b)/db = 1: both get g",
                _wanted_add,
            ),
        ),
        Property(
            TOPIC,
            V,
            "mul swaps its inputs: d(a*b)/da = b",
            laws.law(
                fixed(two, [op("__mul__", 0, 1)]), "a.grad = g * b and b.grad = g * a", _wanted_mul
            ),
        ),
        Property(
            TOPIC,
            V,
            "relu routes the gradient to x where x > 0",
            laws.law(
                fixed([(4, 5)], [op("relu", 0)]),
                "x.grad = g * (x > 0): the larger of x and 0 gets it",
                _wanted_relu,
            ),
        ),
        Property(
            TOPIC,
            V,
            "relu at x == 0 passes no gradient",
            laws.law(_relu_at_zero, "x.grad = g * (x > 0): 0 where x == 0", _wanted_relu),
        ),
    ]


def _one(name: str, make: Make, hidden: bool = False) -> Check:
    return Property(TOPIC, V, name, laws.against_reference(make), kind=REF, hidden=hidden)


def _operations() -> list[Check]:
    m34, two = [(3, 4)], [(3, 4), (3, 4)]
    const = np.round(np.linspace(-1.5, 1.5, 12).reshape(3, 4), 2)
    weights = np.round(np.linspace(-0.9, 0.8, 8).reshape(4, 2), 2)
    return [
        _one("x - y, then -that", fixed(two, [op("__sub__", 0, 1), op("__neg__", 2)])),
        _one("x / y (y > 0)", fixed(two, [op("__truediv__", 0, 1)], positive=True)),
        _one(
            "reflected: 1.5 / x, 0.5 + that, 3 * that, 2.5 - that (x > 0)",
            fixed(
                m34,
                [
                    op("__rtruediv__", 0, consts=(1.5,)),
                    op("__radd__", 1, consts=(0.5,)),
                    op("__rmul__", 2, consts=(3.0,)),
                    op("__rsub__", 3, consts=(2.5,)),
                ],
                positive=True,
            ),
        ),
        _one(
            "x + an array constant, x * an array constant",
            fixed(m34, [op("__add__", 0, consts=(const,)), op("__mul__", 1, consts=(const,))]),
        ),
        _one("x ** 3", fixed(m34, [op("__pow__", 0, consts=(3,))])),
        _one("x ** -2", fixed(m34, [op("__pow__", 0, consts=(-2,))])),
        _one(
            "x ** 0.5, then that ** 1.5 (x > 0)",
            fixed(
                m34,
                [op("__pow__", 0, consts=(0.5,)), op("__pow__", 1, consts=(1.5,))],
                positive=True,
            ),
        ),
        _one("x.exp()", fixed(m34, [op("exp", 0)])),
        _one("x.log() (x > 0)", fixed(m34, [op("log", 0)], positive=True)),
        _one("x.tanh()", fixed(m34, [op("tanh", 0)])),
        _one("x.sum() to a scalar, backward()", fixed(m34, [op("sum", 0)], steps="scalar")),
        _one(
            "x.sum(axis=0), then that.sum(axis=-1, keepdims=True)",
            fixed(m34, [op("sum", 0, axis=0), op("sum", 1, axis=-1, keepdims=True)]),
        ),
        _one("x.sum(axis=(0, 2)) of (2, 3, 4)", fixed([(2, 3, 4)], [op("sum", 0, axis=(0, 2))])),
        _one("(3, 4) @ (4, 2)", fixed([(3, 4), (4, 2)], [op("__matmul__", 0, 1)])),
        _one("(1, 5) @ (5, 1)", fixed([(1, 5), (5, 1)], [op("__matmul__", 0, 1)])),
        # the docstring allows a raw ndarray as the other operand: it must be lifted to a Value
        _one(
            "(3, 4) @ a raw ndarray (4, 2), then tanh",
            fixed([(3, 4)], [op("__matmul__", 0, consts=(weights,)), op("tanh", 1)]),
        ),
        _one(
            "(6, 2) @ (2, 5) then tanh",
            fixed([(6, 2), (2, 5)], [op("__matmul__", 0, 1), op("tanh", 2)]),
            hidden=True,
        ),
    ]


def _graphs() -> list[Check]:
    chain = [op("__mul__", 0, 1), op("tanh", 2), op("sum", 3)]
    return [
        _one("broadcasting (3, 1) + (1, 4)", fixed([(3, 1), (1, 4)], [op("__add__", 0, 1)])),
        _one("broadcasting: a scalar times a matrix", fixed([(), (3, 4)], [op("__mul__", 0, 1)])),
        _one(
            "broadcasting (3, 4) - (4,): a row vector", fixed([(3, 4), (4,)], [op("__sub__", 0, 1)])
        ),
        _one("broadcasting (2, 3, 4) * (3, 1)", fixed([(2, 3, 4), (3, 1)], [op("__mul__", 0, 1)])),
        _one(
            "((3, 1) * (1, 4)).tanh().sum(), backward()",
            fixed([(3, 1), (1, 4)], chain, steps="scalar"),
        ),
        _one(
            "broadcasting (4, 1, 5) / (3, 1) (hidden sizes)",
            fixed([(4, 1, 5), (3, 1)], [op("__truediv__", 0, 1)], positive=True),
            hidden=True,
        ),
        _one(
            "a node used twice: x + x, then y * y",
            fixed([(3, 4)], [op("__add__", 0, 0), op("__mul__", 1, 1), op("tanh", 2)]),
        ),
        _one(
            "shared subexpression: y = a * b, then (y + a).exp() * y",
            fixed(
                [(3, 4), (3, 4)],
                [op("__mul__", 0, 1), op("__add__", 2, 0), op("exp", 3), op("__mul__", 4, 2)],
            ),
        ),
        _one(
            "diamond: y = x.tanh(), then (y.exp() + y) * y",
            fixed(
                [(2, 5)], [op("tanh", 0), op("exp", 1), op("__add__", 2, 1), op("__mul__", 3, 1)]
            ),
        ),
        _one(
            "backward() on a scalar output seeds 1",
            fixed([(3, 4)], [op("tanh", 0), op("sum", 1)], steps="scalar"),
        ),
        _one(
            "backward(grad) seeds the upstream gradient",
            fixed([(3, 4)], [op("exp", 0), op("__mul__", 1, 0)]),
        ),
        Property(
            TOPIC,
            V,
            "backward() without grad on a non-scalar output raises ValueError",
            laws.nonscalar_needs_grad(fixed([(3, 4)], [op("tanh", 0)])),
        ),
        Property(
            TOPIC,
            V,
            "backward(grad) with a grad of the wrong shape (4,) or (1, 4) raises ValueError",
            laws.wrong_grad_shape(fixed([(3, 4)], [op("tanh", 0)]), ((4,), (1, 4))),
        ),
        _one(
            "zero_grad() resets every node of the graph",
            fixed(
                [(3, 4), (3, 4), (4,)],
                [op("__mul__", 0, 1), op("exp", 3), op("__add__", 4, 2)],
                steps="zero",
            ),
        ),
        _one(
            "backward, zero_grad(), backward: the second pass alone",
            random_program(
                [(3, 4), (3, 4), (4,)],
                8,
                steps="twice",
                chains=2,
                note="the second pass must stand alone",
            ),
        ),
    ]


MM = ("unary", "const", "binary", "sum", "matmul")


def _graph(what: str, shapes: list[tuple[int, ...]], n: int, hidden: bool = False, **kw) -> Check:
    """A random program of ``n`` operations against the reference; its case names ``n``."""
    case = f"{what}, {n} operations" + (", backward() on a scalar" if kw.get("steps") else "")
    return _one(case, random_program(shapes, n, **kw), hidden=hidden)


def _random() -> list[Check]:
    return [
        _graph("random graph, shared nodes", [(3, 4)] * 3, 12, share=0.8, chains=2),
        _graph("random graph, broadcasting", [(3, 1), (1, 4), (), (4,)], 12, chains=2),
        _graph(
            "random graph with matmul", [(3, 4), (4, 2), (2, 3), (3, 2)], 12, allowed=MM, chains=2
        ),
        _graph("deep chain", [(2, 3), (2, 3), (3,)], 30, steps="scalar"),
        _graph("random graph", [(2, 3, 4), (3, 1), (4,), ()], 16, hidden=True, chains=2),
        _graph("deep chain", [(4,), (4,), (1,)], 20, hidden=True),
        _graph(
            "random graph with matmul",
            [(5, 3), (3, 6), (6, 5)],
            14,
            hidden=True,
            allowed=MM,
            chains=2,
        ),
    ]


def _numeric(mode: str, what: str, shapes: list, n: int, hidden: bool = False, **kw) -> Check:
    how = ", elementwise" if mode == "elementwise" else " along random directions"
    return Property(
        TOPIC,
        V,
        f"numeric gradient{how} ({what}, {n} operations)",
        laws.numeric(random_program(shapes, n, **kw), mode),
        kind=Kind.GRADIENT,
        hidden=hidden,
    )


def _numeric_and_hygiene() -> list[Check]:
    return [
        _numeric("elementwise", "random graph", [(2, 3), (3, 1), (1, 3), ()], 10, chains=2),
        _numeric("directional", "deep chain", [(3, 4), (3, 4), (4,)], 12),
        _numeric(
            "elementwise",
            "random graph with matmul",
            [(2, 3), (3, 2)],
            10,
            True,
            allowed=MM,
            chains=2,
        ),
        Property(
            TOPIC,
            V,
            "leaf data unchanged by the forward and backward passes",
            laws.leaves_unchanged(random_program([(3, 4), (3, 1), (4,)], 8, chains=2)),
            kind=Kind.HYGIENE,
        ),
        Property(
            TOPIC,
            V,
            "two graphs of one program: same gradients, no shared state",
            laws.two_graphs(random_program([(3, 4), (3, 4)], 8, chains=2)),
            kind=Kind.HYGIENE,
        ),
    ]


def checks() -> list[Check]:
    return [
        *_unbroadcast_checks(),
        *_laws(),
        *_operations(),
        *_graphs(),
        *_random(),
        *_numeric_and_hygiene(),
    ]
