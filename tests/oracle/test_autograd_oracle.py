"""The reference engine (solutions/autograd.py) agrees with ``torch.autograd`` in float64.

Programs (leaves, operations over node indices, an upstream gradient; the judge's own
representation, ``grader.topics.autograd.programs``) are drawn by hypothesis: operations on the
previous node and on any earlier one, so that nodes are shared (a + a, a node feeding several
operations), operands of different shapes broadcast ((3, 1) with (1, 4), a scalar with a
matrix), constants and reflected operators appear, and sums reduce over axes. Each program runs
on the reference ``Value`` and on torch tensors (``retain_grad`` on every node); the data and
the grad of EVERY node must agree, not only the leaves'. The judge's program makers (the
random graphs and 30-operation chains the checks grade with) are replayed the same way, and
``unbroadcast`` is compared with ``Tensor.sum_to_size``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch
from conftest import load_solution
from hypothesis import given
from hypothesis import strategies as st
from strategies import KINK_MARGIN, float_arrays, floats_away_from

from grader.topics.autograd import programs as pg
from grader.topics.autograd.engines import build
from grader.topics.autograd.programs import Op, Program

SHAPE_SETS = (
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4), (), (4,)),
    ((2, 3, 4), (3, 1), (4,)),
    ((3, 4), (4, 2), (2, 3)),
    ((5,),),
)


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    return load_solution("autograd")


def _fits(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _valid(op: Op, values: list[np.ndarray]) -> bool:
    x = values[op.inputs[0]]
    if op.method == "log" and np.min(x) <= 0.1:
        return False
    if op.method == "relu" and np.min(np.abs(x)) <= KINK_MARGIN:
        return False
    if (
        op.method == "__truediv__"
        and len(op.inputs) == 2
        and np.min(np.abs(values[op.inputs[1]])) < 0.2
    ):
        return False
    if op.method == "__rtruediv__" and np.min(np.abs(x)) < 0.2:
        return False
    if op.method == "__pow__" and op.consts[0] != int(op.consts[0]) and np.min(x) <= 0.1:
        return False
    if op.method == "__pow__" and op.consts[0] < 0 and np.min(np.abs(x)) < 0.2:
        return False
    value = pg.apply(op, values)
    return bool(np.all(np.isfinite(value)) and np.max(np.abs(value), initial=0.0) < 50)


@st.composite
def programs(draw: st.DrawFn, max_ops: int = 8) -> Program:
    shapes = draw(st.sampled_from(SHAPE_SETS), label="leaf shapes")
    elements = floats_away_from(0.0, bound=1.5, margin=0.2)
    leaves = [draw(float_arrays(s, elements=elements)) for s in shapes]
    values = [np.asarray(x) for x in leaves]
    ops: list[Op] = []
    for _ in range(draw(st.integers(1, max_ops), label="operations")):
        prev = len(values) - 1
        x = values[prev]
        kind = draw(st.sampled_from(["unary", "const", "binary", "binary", "sum", "matmul"]))
        if kind == "unary":
            method = draw(st.sampled_from(["exp", "log", "tanh", "relu", "__neg__", "__pow__"]))
            consts = (draw(st.sampled_from([2, 3, 0.5, -1.0])),) if method == "__pow__" else ()
            op = Op(method, (prev,), consts)
        elif kind == "const":
            method = draw(
                st.sampled_from(
                    ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__"]
                    + ["__truediv__", "__rtruediv__"]
                )
            )
            const = draw(st.sampled_from([-1.5, -0.5, 0.75, 2.0]))
            op = Op(method, (prev,), (const,))
        elif kind == "sum" and x.ndim:
            axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
            op = Op("sum", (prev,), (), (("axis", axis), ("keepdims", draw(st.booleans()))))
        elif kind == "matmul" and x.ndim == 2:
            fits = [i for i, v in enumerate(values) if v.ndim == 2 and v.shape[0] == x.shape[1]]
            op = (
                Op("__matmul__", (prev, draw(st.sampled_from(fits))))
                if fits
                else Op("tanh", (prev,))
            )
        else:  # binary with any earlier node: a shared one, itself, or a leaf to broadcast with
            others = [i for i, v in enumerate(values) if _fits(v.shape, x.shape)]
            other = draw(st.sampled_from(others), label="other operand")
            method = draw(st.sampled_from(["__add__", "__sub__", "__mul__", "__truediv__"]))
            pair = (prev, other) if draw(st.booleans()) else (other, prev)
            op = Op(method, pair)
        if not _valid(op, values):
            op = Op("tanh", (prev,))
        ops.append(op)
        values.append(pg.apply(op, values))
    upstream = draw(float_arrays(values[-1].shape), label="upstream")
    return Program(
        tuple(leaves),
        tuple(ops),
        (pg.Step("backward", upstream),),
        "",
        tuple(v.shape for v in values),
    )


def _torch_nodes(program: Program) -> list[torch.Tensor]:
    nodes = [torch.from_numpy(x.copy()).requires_grad_(True) for x in program.leaves]
    for op in program.ops:
        target = nodes[op.inputs[0]]
        operands = [nodes[i] for i in op.inputs[1:]]
        consts = [torch.from_numpy(c) if isinstance(c, np.ndarray) else c for c in op.consts]
        kwargs = dict(op.kwargs)
        if op.method == "sum":
            axis, keep = kwargs.get("axis"), kwargs.get("keepdims", False)
            out = target.sum() if axis is None else target.sum(dim=axis, keepdim=keep)
            if axis is None and keep:
                out = out.reshape((1,) * target.ndim)
        else:
            out = getattr(target, op.method)(*operands, *consts)
        out.retain_grad()
        nodes.append(out)
    return nodes


def _compare(ref: ModuleType, program: Program) -> None:
    ours = build(ref, program)
    theirs = _torch_nodes(program)
    step = program.steps[0]
    ours[-1].backward(step.grad)
    theirs[-1].backward(torch.from_numpy(step.grad.copy()))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(
            a.data, b.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=f"n{i}.data"
        )
        want = np.zeros(a.data.shape) if b.grad is None else b.grad.numpy()  # unreached: zeros
        assert a.grad.shape == a.data.shape, f"n{i}.grad has shape {a.grad.shape}"
        np.testing.assert_allclose(a.grad, want, rtol=1e-9, atol=1e-10, err_msg=f"n{i}.grad")


@given(program=programs())
def test_every_node_data_and_grad_match_torch(ref, program):
    _compare(ref, program)


@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(range(5)))
def test_the_judges_random_programs_match_torch(ref, seed, which):
    """The makers the checks grade with: random graphs with shared nodes, broadcasting and
    matmul, a 30-operation chain ending in sum() (backward() on a scalar: the seed is 1)."""
    mm = ("unary", "const", "binary", "sum", "matmul")
    make = [
        pg.random_program([(3, 4)] * 3, 10, share=0.8),
        pg.random_program([(3, 1), (1, 4), (), (4,)], 10),
        pg.random_program([(3, 4), (4, 2), (2, 3), (3, 2)], 10, allowed=mm),
        pg.random_program([(2, 3), (2, 3), (3,)], 30, steps="scalar"),
        pg.random_program([(2, 3, 4), (3, 1), (4,), ()], 16),
    ][which]
    (program,) = make(np.random.default_rng(seed))
    if program.steps[0].grad is None:
        ones = np.ones(program.shapes[-1])
        program = program.with_steps([pg.Step("backward", ones)])
    _compare(ref, program)


def test_a_node_used_twice_gets_the_sum(ref):
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    a = ref.Value(x)
    out = (a * a + a).sum()
    out.backward()
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    (t * t + t).sum().backward()
    np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(a.grad, 2 * x + 1, rtol=1e-15)


def test_zero_grad_then_backward_is_one_torch_pass(ref):
    """backward(g1), zero_grad(), backward(g2) gives what torch gives for g2 alone."""
    rng = np.random.default_rng(0)
    (program,) = pg.random_program([(3, 1), (1, 4), (4,)], 12, steps="twice")(rng)
    nodes = build(ref, program)
    nodes[-1].backward(program.steps[0].grad)
    nodes[-1].zero_grad()
    nodes[-1].backward(program.steps[2].grad)
    theirs = _torch_nodes(program)
    theirs[-1].backward(torch.from_numpy(program.steps[2].grad.copy()))
    for a, b in zip(nodes, theirs):
        want = np.zeros(a.data.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(a.grad, want, rtol=1e-9, atol=1e-10)


@st.composite
def broadcast_pairs(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    """(grad, shape): shape, and grad of a shape it broadcasts to (axes prepended, 1s stretched)."""
    shape = draw(st.lists(st.sampled_from([1, 2, 3]), max_size=3).map(tuple), label="shape")
    lead = draw(st.lists(st.integers(1, 3), max_size=2).map(tuple), label="prepended")
    stretched = tuple(draw(st.integers(1, 4)) if n == 1 else n for n in shape)
    grad = draw(float_arrays(lead + stretched), label="grad")
    return grad, shape


@given(pair=broadcast_pairs())
def test_unbroadcast_is_torch_sum_to_size(ref, pair):
    grad, shape = pair
    before = grad.copy()
    out = ref.unbroadcast(grad, shape)
    t = torch.from_numpy(grad.copy())
    want = t.sum() if shape == () else t.sum_to_size(shape)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(grad, before)
    assert out is not grad
