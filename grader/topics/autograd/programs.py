"""Topic ``autograd``, part one: programs, the judge's description of a computation graph.

A ``Program`` is a list of leaf arrays, a list of operations over node indices and the steps run
on its last node (``backward(grad)``, ``zero_grad()``). Nodes are numbered ``n0, n1, ...``: the
leaves first, then one node per operation, in order. The same program is replayed on the
student's ``Value`` (through handles, ``grader.topics.autograd.replay``) and on the reference
engine or a mistaken one (``grader.topics.autograd.engines``).

Operations are method calls on a node: an operator (``__add__``, ``__rsub__``, ``__pow__``,
``__matmul__``, ...) or a method (``exp``, ``sum``, ...); the first input is the node the
method is called on, the other inputs are Value operands, then come plain constants (a number,
an array, an exponent). The makers here draw every number from the check's rng. Random programs
are chains with skip connections: every operation extends its chain's last node, and the other
operand may be any earlier node (a shared subexpression), the chain's node itself (a + a) or a
leaf of another shape (broadcasting). A deep chain is one chain, so its interior nodes have one
topological order; a random graph is two chains that take turns, use each other's nodes and are
joined at the end (half the depth, so half the worker round trips). Values stay in [-20, 20],
away from 0 and never constant; relu inputs and denominators stay away from 0, tanh unsaturated,
logs of positive numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_ABS = 20.0  # every node's values stay within this bound
KINK = 0.02  # relu inputs are at least this far from 0
MAX_VISITS = 2000  # root-to-node paths, summed: what a per-path recursive backward costs


@dataclass(frozen=True, eq=False)
class Op:
    """One operation: ``nodes[inputs[0]].method(*nodes[inputs[1:]], *consts, **kwargs)``."""

    method: str
    inputs: tuple[int, ...]
    consts: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, eq=False)
class Step:
    """What is run on the program's last node: ``backward(grad)`` (``grad`` None:
    ``backward()``) or ``zero_grad()``."""

    action: str  # "backward" or "zero_grad"
    grad: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Program:
    leaves: tuple[np.ndarray, ...]
    ops: tuple[Op, ...]
    steps: tuple[Step, ...]
    note: str = ""  # what the program is about, for the feedback
    shapes: tuple[tuple[int, ...], ...] = field(default=())  # of every node (filled by make)

    @property
    def size(self) -> int:
        return len(self.leaves) + len(self.ops)

    @property
    def root(self) -> int:
        return self.size - 1

    def as_data(self) -> tuple:
        """The program as plain data (arrays, numbers, strings, tuples): what determines the
        reference's answer to it, so that ``grader release`` can keep that answer as data."""
        ops = tuple((op.method, op.inputs, op.consts, op.kwargs) for op in self.ops)
        return self.leaves, ops, tuple((s.action, s.grad) for s in self.steps), self.shapes

    def with_leaves(self, leaves: Sequence[np.ndarray]) -> Program:
        return Program(tuple(leaves), self.ops, self.steps, self.note, self.shapes)

    def with_steps(self, steps: Sequence[Step]) -> Program:
        return Program(self.leaves, self.ops, tuple(steps), self.note, self.shapes)


# -- the operations and what they compute (numpy, for drawing valid programs) --------------------
def _reflect(f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda a, b: f(b, a)


BINARY: dict[str, tuple[str, Callable[[Any, Any], Any], bool]] = {
    "__add__": ("+", np.add, False),
    "__radd__": ("+", _reflect(np.add), True),
    "__sub__": ("-", np.subtract, False),
    "__rsub__": ("-", _reflect(np.subtract), True),
    "__mul__": ("*", np.multiply, False),
    "__rmul__": ("*", _reflect(np.multiply), True),
    "__truediv__": ("/", np.divide, False),
    "__rtruediv__": ("/", _reflect(np.divide), True),
    "__matmul__": ("@", np.matmul, False),
}
UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def apply(op: Op, values: Sequence[np.ndarray]) -> np.ndarray:
    """What ``op`` computes from the nodes' values (plain numpy)."""
    x = values[op.inputs[0]]
    operands = [values[i] for i in op.inputs[1:]] + list(op.consts)
    kwargs = dict(op.kwargs)
    with np.errstate(all="ignore"):
        if op.method in BINARY:
            return np.asarray(BINARY[op.method][1](x, operands[0]), dtype=np.float64)
        if op.method in UNARY:
            return UNARY[op.method](x)
        if op.method == "__neg__":
            return -x
        if op.method == "__pow__":
            return np.asarray(x ** float(operands[0]))
        if op.method == "sum":
            return np.asarray(
                np.sum(x, axis=kwargs.get("axis"), keepdims=kwargs.get("keepdims", False))
            )
    raise ValueError(f"unknown operation {op.method}")


def evaluate(leaves: Sequence[np.ndarray], ops: Sequence[Op]) -> list[np.ndarray]:
    values = [np.asarray(x, dtype=np.float64) for x in leaves]
    for op in ops:
        values.append(apply(op, values))
    return values


# -- text ----------------------------------------------------------------------------------------
def _const(c: Any) -> str:
    if isinstance(c, np.ndarray):
        return f"array {c.shape}"
    return f"{c:g}" if isinstance(c, float) else repr(c)


def op_text(op: Op, index: int) -> str:
    """``n5 = n3 + n1``, ``n6 = 2 - n5``, ``n7 = n6.sum(axis=0)``."""
    names = [f"n{i}" for i in op.inputs] + [_const(c) for c in op.consts]
    target = names[0]
    if op.method in BINARY:
        symbol, _, reflected = BINARY[op.method]
        expr = f"{names[1]} {symbol} {target}" if reflected else f"{target} {symbol} {names[1]}"
    elif op.method == "__neg__":
        expr = f"-{target}"
    elif op.method == "__pow__":
        expr = f"{target} ** {names[1]}"
    else:
        args = names[1:] + [f"{k}={v!r}" for k, v in op.kwargs]
        expr = f"{target}.{op.method}({', '.join(args)})"
    return f"n{index} = {expr}"


def step_text(program: Program, step: Step) -> str:
    root = f"n{program.root}"
    if step.action == "zero_grad":
        return f"{root}.zero_grad()"
    if step.grad is None:
        return f"{root}.backward()"
    return f"{root}.backward(grad {step.grad.shape})"


def listing(program: Program, limit: int = 40) -> list[str]:
    """The program as code, one line per leaf, operation and step."""
    lines = [f"n{i} = Value(array {x.shape})" for i, x in enumerate(program.leaves)]
    first = len(program.leaves)
    lines += [op_text(op, first + k) for k, op in enumerate(program.ops)]
    lines += [step_text(program, s) for s in program.steps]
    if len(lines) > limit:
        lines = lines[: limit // 2] + [f"... ({len(lines) - limit} lines)"] + lines[-limit // 2 :]
    return lines


def summary(program: Program) -> str:
    """``Value program of 12 operations on leaves (3, 1), (1, 4)``."""
    shapes = ", ".join(str(x.shape) for x in program.leaves)
    count = len(program.ops)
    return f"Value program of {count} operation{'s' if count != 1 else ''} on leaves {shapes}"


def consumers(program: Program, node: int) -> list[str]:
    """The operations that take ``node`` as an input, as text."""
    first = len(program.leaves)
    return [op_text(op, first + k) for k, op in enumerate(program.ops) if node in op.inputs]


# -- making programs -----------------------------------------------------------------------------
def leaf(rng: np.random.Generator, shape: tuple[int, ...], positive: bool = False) -> np.ndarray:
    """Values with |x| in [0.3, 1.5] (positive when asked): away from relu's kink and from 0."""
    x = rng.uniform(0.3, 1.5, shape)
    return x if positive else x * rng.choice([-1.0, 1.0], shape)


def finish(
    leaves: Sequence[np.ndarray],
    ops: Sequence[Op],
    rng: np.random.Generator,
    steps: str = "upstream",
    note: str = "",
) -> Program:
    """A program with its shapes and steps: ``"upstream"`` (backward(grad), grad random),
    ``"scalar"`` (backward()), ``"twice"`` (backward(g1), zero_grad(), backward(g2)) or
    ``"zero"`` (backward(grad), zero_grad())."""
    values = evaluate(leaves, ops)
    shape = values[-1].shape
    g1, g2 = rng.standard_normal(shape), rng.standard_normal(shape)
    chosen = {
        "upstream": (Step("backward", g1),),
        "scalar": (Step("backward"),),
        "twice": (Step("backward", g1), Step("zero_grad"), Step("backward", g2)),
        "zero": (Step("backward", g1), Step("zero_grad")),
    }[steps]
    shapes = tuple(v.shape for v in values)
    return Program(
        tuple(np.asarray(x, dtype=np.float64) for x in leaves), tuple(ops), chosen, note, shapes
    )


Make = Callable[[np.random.Generator], tuple[Program]]


def fixed(
    shapes: Sequence[tuple[int, ...]],
    ops: Sequence[Op],
    steps: str = "upstream",
    positive: bool = False,
    note: str = "",
) -> Make:
    """A program of fixed operations on random leaves of ``shapes``."""

    def make(rng: np.random.Generator) -> tuple[Program]:
        leaves = [leaf(rng, s, positive) for s in shapes]
        return (finish(leaves, ops, rng, steps, note),)

    return make


def pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    """One of ``items``, uniformly (rng.choice, without converting the list to an array)."""
    return items[int(rng.integers(len(items)))]


def _ok(value: np.ndarray, op: Op, x: np.ndarray) -> bool:
    """Is this operation's value fit for the program? Bounded, small, off relu's kink, tanh not
    saturated, and not degenerate: no node near 0 everywhere, or constant (x - x, (x + x) / x),
    whose gradients would vanish or carry no information."""
    top = np.max(np.abs(value), initial=0.0)
    if not np.all(np.isfinite(value)) or top > MAX_ABS or top < 0.05:
        return False
    if value.ndim > 3 or value.size > 36:
        return False
    if value.size > 1 and np.ptp(value) < 1e-3:
        return False
    if op.method == "relu":
        return bool(np.min(np.abs(x)) > KINK)
    if op.method == "tanh":  # not saturated: tanh'(3) is 0.01
        return bool(np.max(np.abs(x)) < 3.0)
    return True


def _visits(ops: Sequence[Op], n_leaves: int, heads: Sequence[int]) -> int:
    """Calls a per-path recursive backward would make from an output that joins ``heads``:
    output-to-node paths, summed over the nodes."""
    paths = [0] * (n_leaves + len(ops))
    for h in heads:
        paths[h] += 1
    for k in range(len(ops) - 1, -1, -1):
        for i in ops[k].inputs:
            paths[i] += paths[n_leaves + k]
    return sum(paths) + 1


def _draw_op(
    rng: np.random.Generator,
    values: list[np.ndarray],
    prev: int,
    n_leaves: int,
    unused: list[int],
    allowed: frozenset[str],
    share: float,
) -> Op:
    """One operation on node ``prev`` (the head of its chain), drawn at random."""
    x = values[prev]
    kinds = [k for k in ("unary", "const", "binary", "binary", "sum") if k in allowed]
    if "matmul" in allowed and x.ndim == 2:
        kinds += ["matmul", "matmul"]
    kind = pick(rng, kinds)
    if kind == "unary":
        method = pick(rng, ["exp", "log", "tanh", "relu", "__neg__", "__pow__", "__pow__"])
        if method == "log" and np.min(x) <= 0.1:
            method = "tanh"
        if method == "exp" and np.max(x) > 2.5:
            method = "tanh"
        if method == "__pow__":
            exponent = pick(rng, [2.0, 3.0, 0.5, -1.0])
            if exponent == 0.5 and np.min(x) <= 0.1:
                exponent = 2.0
            if exponent == -1.0 and np.min(np.abs(x)) < 0.3:
                exponent = 2.0
            return Op("__pow__", (prev,), (exponent,))
        return Op(method, (prev,))
    if kind == "const":
        method = pick(rng, ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__"])
        c = pick(rng, [-1.0, 1.0]) * rng.uniform(0.5, 2.0)
        const: Any = round(c, 2)
        if rng.random() < 0.25:
            const = np.round(rng.uniform(-1.5, 1.5, x.shape), 2)
        if np.min(np.abs(x)) > 0.3 and rng.random() < 0.3:
            return Op("__rtruediv__", (prev,), (round(c, 2),))
        return Op(method, (prev,), (const,))
    if kind == "sum":
        if x.ndim == 0:
            return Op("tanh", (prev,))
        if x.ndim == 1 or rng.random() < 0.3:
            return Op("sum", (prev,), (), (("axis", int(rng.integers(x.ndim))), ("keepdims", True)))
        axis = int(rng.integers(-x.ndim, x.ndim))
        return Op("sum", (prev,), (), (("axis", axis), ("keepdims", bool(rng.random() < 0.5))))
    if kind == "matmul":
        fits = [i for i, v in enumerate(values) if v.ndim == 2 and v.shape[0] == x.shape[1]]
        left = [i for i, v in enumerate(values) if v.ndim == 2 and v.shape[1] == x.shape[0]]
        if fits and (not left or rng.random() < 0.6):
            return Op("__matmul__", (prev, pick(rng, fits)))
        if left:
            return Op("__matmul__", (pick(rng, left), prev))
        return Op("tanh", (prev,))
    # binary with another node: an unused leaf first, else a shared node or any leaf
    fits = [i for i, v in enumerate(values) if _broadcastable(v.shape, x.shape)]
    fresh = [i for i in unused if i in fits]
    shared = [i for i in fits if i >= n_leaves and i != prev]
    if fresh:
        other = pick(rng, fresh)
    elif shared and rng.random() < share:
        other = pick(rng, shared)
    elif rng.random() < 0.15:
        other = prev
    else:
        other = pick(rng, fits)
    method = pick(rng, ["__add__", "__sub__", "__mul__", "__mul__", "__truediv__"])
    if other == prev:  # a + a and a * a; a - a and a / a are constants
        method = pick(rng, ["__add__", "__mul__"])
    pair = (prev, other) if rng.random() < 0.6 else (other, prev)
    if method == "__truediv__" and np.min(np.abs(values[pair[1]])) < 0.3:
        method = "__mul__"
    return Op(method, pair)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _join(values: list[np.ndarray], heads: list[int]) -> list[Op]:
    """Operations that join two chains into one output: their sum or product where the shapes
    broadcast (whichever stays bounded), else the sum of each, added."""
    a, b = heads
    for method in ("__add__", "__mul__"):
        op = Op(method, (a, b))
        if _broadcastable(values[a].shape, values[b].shape) and _ok(
            apply(op, values), op, values[a]
        ):
            return [op]
    n = len(values)
    return [Op("sum", (a,)), Op("sum", (b,)), Op("__add__", (n, n + 1))]


def random_program(
    shapes: Sequence[tuple[int, ...]],
    n_ops: int,
    steps: str = "upstream",
    allowed: Sequence[str] = ("unary", "const", "binary", "sum"),
    share: float = 0.5,
    chains: int = 1,
    note: str = "",
) -> Make:
    """``n_ops`` random operations over leaves of ``shapes`` (see the module's docstring): one
    chain, or two (``chains=2``) that take turns, may share each other's nodes and are joined
    at the end (half the depth: half the worker round trips). With ``steps="scalar"`` a final
    ``sum()`` makes the output a scalar."""
    kinds = frozenset(allowed)

    def make(rng: np.random.Generator) -> tuple[Program]:
        leaves = [leaf(rng, s) for s in shapes]
        values = [np.asarray(x) for x in leaves]
        n = len(leaves)
        heads = [n - 1 - c for c in range(min(chains, n))]  # each chain starts from a leaf
        ops: list[Op] = []
        unused = [i for i in range(n) if i not in heads]
        for k in range(n_ops):
            turn = k % len(heads)
            for _attempt in range(50):
                op = _draw_op(rng, values, heads[turn], n, unused, kinds, share)
                value = apply(op, values)
                after = heads[:turn] + [len(values)] + heads[turn + 1 :]
                if (
                    _ok(value, op, values[op.inputs[0]])
                    and _visits([*ops, op], n, after) <= MAX_VISITS
                ):
                    break
            else:
                op = Op("tanh", (heads[turn],))
                value = apply(op, values)
            ops.append(op)
            values.append(value)
            heads[turn] = len(values) - 1
            unused = [i for i in unused if i not in op.inputs]
        if len(heads) == 2:
            for op in _join(values, heads):
                ops.append(op)
                values.append(apply(op, values))
        if steps == "scalar" and values[-1].ndim > 0:
            ops.append(Op("sum", (len(values) - 1,)))
        return (finish(leaves, ops, rng, steps, note),)

    return make
