"""Topic ``autograd``, part two: programs replayed judge-side, on the reference engine and on
mistaken variants of it (the known mistakes).

``build`` replays a program's forward pass on the reference ``Value``; ``run`` then runs its
steps with an ``Engine``: the reference's own ``backward``/``zero_grad`` (``REFERENCE``), or a
judge-side backward loop over the reference's nodes (their ``_parents`` and ``_backward`` local
rules) that makes one mistake: another visiting order, gradients assigned instead of added, no
unbroadcast, no seed, zero_grad that resets nothing, or one local rule changed. A mistake's
model returns the grads of every program node, the layout the checks read from the student.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Misconception
from grader.judge.expected import CachedReference, kept
from grader.topics.autograd.programs import Program

MAX_PATH_VISITS = 20_000  # a per-path backward beyond this is not modelled


def build(ref: ModuleType, program: Program) -> list[Any]:
    """The program's nodes as reference Values (leaves first, one per operation)."""
    nodes = [ref.Value(np.array(x)) for x in program.leaves]
    for op in program.ops:
        operands = [nodes[i] for i in op.inputs[1:]]
        consts = [np.array(c) if isinstance(c, np.ndarray) else c for c in op.consts]
        method = getattr(nodes[op.inputs[0]], op.method)
        nodes.append(method(*operands, *consts, **dict(op.kwargs)))
    return nodes


@dataclass(frozen=True)
class Engine:
    """How backward and zero_grad run: the reference, or one mistake."""

    order: str = "topological"  # "bfs", "paths" (recursive, per path), "forward" (not reversed)
    accumulate: bool = True  # False: parent.grad = contribution
    unbroadcast: bool = True  # False: parent.grad = parent.grad + contribution (shape grows)
    seed: str = "given"  # "none": the output's grad never set; "ones": upstream ignored
    zero: str = "all"  # "none": zero_grad does nothing; "self": resets the output only
    rules: tuple[str, ...] = field(default=())  # local rules changed: "mul", "tanh", "relu"


REFERENCE = Engine()


def _changed_rule(node: Any, rule: str) -> Any:
    parents = node._parents
    if rule == "mul":  # d(a*b)/da taken as a: each input's own data
        return lambda g: (g * parents[0].data, g * parents[1].data)
    if rule == "tanh":  # 1 - x**2 with x the input
        return lambda g: (g * (1.0 - parents[0].data ** 2),)
    if rule == "relu":  # passed everywhere
        return lambda g: (g,)
    raise ValueError(rule)


def _order(root: Any, engine: Engine) -> list[Any]:
    if engine.order == "topological":
        return list(reversed(root.topological_order()))
    if engine.order == "forward":
        return list(root.topological_order())
    if engine.order == "bfs":
        queue, seen, order = deque([root]), {id(root)}, []
        while queue:
            node = queue.popleft()
            order.append(node)
            for parent in node._parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
        return order
    raise ValueError(engine.order)


def _contribute(ref: ModuleType, node: Any, engine: Engine) -> None:
    for parent, g in zip(node._parents, node._backward(node.grad)):
        if engine.unbroadcast:
            g = ref.unbroadcast(g, parent.data.shape)
        if engine.accumulate:
            parent.grad = np.asarray(parent.grad + g)
        else:
            parent.grad = np.array(g, dtype=np.float64)


def _backward(ref: ModuleType, root: Any, grad: np.ndarray | None, engine: Engine) -> None:
    if engine.seed == "given":
        root.grad = np.ones_like(root.data) if grad is None else np.array(grad, dtype=np.float64)
    elif engine.seed == "ones":
        root.grad = np.ones_like(root.data)
    if engine.order == "paths":
        visits = [0]

        def visit(node: Any) -> None:
            visits[0] += 1
            if visits[0] > MAX_PATH_VISITS:
                raise RuntimeError("too many paths to model")
            _contribute(ref, node, engine)
            for parent in node._parents:
                visit(parent)

        visit(root)
        return
    for node in _order(root, engine):
        _contribute(ref, node, engine)


def run(ref: ModuleType, program: Program, engine: Engine = REFERENCE) -> list[Any]:
    """Replay the program and its steps; return its nodes (reference Values, grads filled)."""
    nodes = build(ref, program)
    root = nodes[-1]
    if engine.rules:
        for node in root.topological_order():
            if node._op in engine.rules:
                node._backward = _changed_rule(node, node._op)
    for step in program.steps:
        if step.action == "zero_grad":
            if engine.zero == "all":
                root.zero_grad()
            elif engine.zero == "self":
                root.grad = np.zeros_like(root.data)
        elif engine == REFERENCE:
            root.backward(None if step.grad is None else np.array(step.grad))
        else:
            _backward(ref, root, step.grad, engine)
    return nodes


def grads(ref: ModuleType, program: Program, engine: Engine = REFERENCE) -> tuple:
    """The grad of every program node after the steps, as the checks read them."""
    return tuple(np.array(n.grad) for n in run(ref, program, engine))


def _module(ref: Any) -> ModuleType:
    """The reference module itself: the engines work on its ``Value`` objects, which only
    ever live inside one kept call (``reference``, a mistake's model), never in a check."""
    return ref.module if isinstance(ref, CachedReference) else ref


def reference(ref: Any, program: Program) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """(data, grad) of every program node after its steps on the reference engine. One call
    of plain data in (the program) and out (arrays), kept like a reference function's answer:
    a release holds it as data where it could not hold the reference's ``Value``."""

    def live(program: Program) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        nodes = run(_module(ref), program)
        return tuple(np.array(n.data) for n in nodes), tuple(np.array(n.grad) for n in nodes)

    return kept(ref, "autograd.reference_engine", live, program)


# -- the known mistakes --------------------------------------------------------------------------
OVERWRITTEN = "gradients overwritten instead of accumulated"
NO_TOPO = "backward not in topological order"
NO_UNBROADCAST = "broadcast gradient not summed back to the input's shape"
NO_SEED = "output gradient not seeded with 1"
UPSTREAM_IGNORED = "explicit upstream gradient ignored"
NO_ZERO_GRAD = "zero_grad missing between two backward passes"
MUL_NOT_SWAPPED = "mul gradient not swapped"
TANH_AT_INPUT = "tanh derivative taken at the input"
RELU_EVERYWHERE = "relu gradient passed where x <= 0"
GRAD_SHAPE_UNCHECKED = "upstream gradient of the wrong shape accepted"

HINTS = {
    OVERWRITTEN: "add each contribution to the parent's grad (parent.grad = parent.grad + g); "
    "a node used twice (a + a, or a shared subexpression) gets the sum of its contributions",
    NO_TOPO: "visit the nodes in reverse topological order: build a depth-first post-order "
    "from the output (each node once, after its parents) and reverse it, so that a node's rule "
    "runs only after every node computed from it has added its contribution",
    NO_UNBROADCAST: "sum the contribution back to the parent's shape (unbroadcast(g, "
    "parent.data.shape)) before adding it: summed over the axes broadcasting added or stretched",
    NO_SEED: "backward() must first set the output's grad to the seed: ones for a scalar "
    "output (d out / d out = 1), or the upstream grad passed in",
    UPSTREAM_IGNORED: "backward(grad) seeds the output's gradient with grad, not with ones",
    NO_ZERO_GRAD: "zero_grad() must reset the grad of every node of the graph (the output and "
    "every Value it was computed from), or the next backward() adds to the old gradients",
    MUL_NOT_SWAPPED: "d(a*b)/da is b and d(a*b)/db is a: each input gets the upstream "
    "gradient times the OTHER input",
    TANH_AT_INPUT: "the derivative of tanh is 1 - tanh(x)**2: use the output (out.data), not "
    "1 - x**2 with the input",
    RELU_EVERYWHERE: "relu passes the gradient only where x > 0 (the larger of x and 0) and "
    "blocks it elsewhere: g * (x > 0)",
    GRAD_SHAPE_UNCHECKED: "backward(grad) must raise ValueError unless grad has the output's "
    "shape: a grad that merely broadcasts (shape (4,) for a (3, 4) output) seeds a wrong "
    "gradient everywhere without any error",
}


def _mistake(name: str, engine: Engine) -> Misconception:
    def variant(ref: ModuleType, program: Program) -> tuple:
        return grads(_module(ref), program, engine)

    return Misconception("Value", name, HINTS[name], variant)


def _named_by_its_check(ref: ModuleType, program: Program) -> tuple:
    """A mistake no program's grads show: named by the check that passes a wrong-shaped grad."""
    raise NotImplementedError("named by 'backward(grad) with a grad of the wrong shape'")


MISCONCEPTIONS = (
    _mistake(OVERWRITTEN, Engine(accumulate=False)),
    _mistake(NO_TOPO, Engine(order="bfs")),
    _mistake(NO_TOPO, Engine(order="paths")),
    _mistake(NO_TOPO, Engine(order="forward")),
    _mistake(NO_UNBROADCAST, Engine(unbroadcast=False)),
    _mistake(NO_SEED, Engine(seed="none")),
    _mistake(UPSTREAM_IGNORED, Engine(seed="ones")),
    _mistake(NO_ZERO_GRAD, Engine(zero="none")),
    _mistake(NO_ZERO_GRAD, Engine(zero="self")),
    _mistake(MUL_NOT_SWAPPED, Engine(rules=("mul",))),
    _mistake(TANH_AT_INPUT, Engine(rules=("tanh",))),
    _mistake(RELU_EVERYWHERE, Engine(rules=("relu",))),
    Misconception("Value", GRAD_SHAPE_UNCHECKED, HINTS[GRAD_SHAPE_UNCHECKED], _named_by_its_check),
)
