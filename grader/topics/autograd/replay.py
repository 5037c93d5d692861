"""Topic ``autograd``, part three: programs replayed on the student's ``Value`` in the worker.

Every node is a handle to the student's object. A handle made in a batch cannot be used in the
same batch (its id comes back with the reply), so a replay costs one batch for the leaves and
one per level of the graph (the operations whose inputs all exist); many programs of the same
shape (the perturbed copies of a numeric gradient) are replayed side by side in the same
batches. The steps and every read (``__getattribute__("grad")``, ...) go in one last batch.
Values read back are checked for structure here: a float64 ndarray of the expected shape (a
numpy scalar stands for a 0-d array, as numpy turns 0-d results into scalars).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.base import Context, Outcome, fail
from grader.checks.outputs import is_real_scalar
from grader.judge.student import Call, Reply, StudentFault
from grader.protocol.values import Handle, Other
from grader.topics.autograd.programs import Program, Step, op_text, step_text

CLASS = "Value"


def levels(program: Program) -> list[int]:
    """The level of each operation: 1 + the highest level of its inputs (leaves are 0)."""
    level = [0] * len(program.leaves)
    for op in program.ops:
        level.append(1 + max(level[i] for i in op.inputs))
    return level[len(program.leaves) :]


def _batch(ctx: Context, calls: list[Call], texts: list[str]) -> list[Reply]:
    """One batch; a failure says which call of the program it was (the first that matches)."""
    try:
        return ctx.student.batch(calls)
    except StudentFault as fault:
        for call, text in zip(calls, texts):
            if fault.reason.startswith(call.fn):
                raise StudentFault(fault.outcome, f"{text}: {fault.reason}", fault.staff) from None
        raise


def _handle(reply: Reply, text: str, kind: str | None = None) -> Handle:
    """The handle a call returned; an operation must return an object of the leaves' class
    (``kind``: "Value", or the class that ``Value`` names in the student's module)."""
    value = reply.value
    if not isinstance(value, Handle):
        what = "None" if value is None else type(value).__name__
        raise fail(Outcome.BAD_OUTPUT, f"{text} returned {what}, not a {CLASS}")
    if kind is not None and value.type_name not in (CLASS, kind):
        raise fail(Outcome.BAD_OUTPUT, f"{text} returned a {value.type_name}, not a {CLASS}")
    return value


def build(ctx: Context, programs: Sequence[Program]) -> list[list[Handle]]:
    """Replay the forward passes of ``programs`` side by side; the handles of their nodes."""
    calls, texts, where = [], [], []
    for p, program in enumerate(programs):
        for i, x in enumerate(program.leaves):
            calls.append(Call(CLASS, (x,), keep="all"))
            texts.append(f"n{i} = Value(array {x.shape})")
            where.append(p)
    nodes: list[list[Handle]] = [[] for _ in programs]
    for reply, text, p in zip(_batch(ctx, calls, texts), texts, where):
        nodes[p].append(_handle(reply, text))
    depth = [levels(p) for p in programs]
    for level in range(1, 1 + max((max(d, default=0) for d in depth), default=0)):
        calls, texts, where = [], [], []
        for p, program in enumerate(programs):
            first = len(program.leaves)
            for k, op in enumerate(program.ops):
                if depth[p][k] != level:
                    continue
                handles = nodes[p]
                args = (*[handles[i] for i in op.inputs[1:]], *op.consts)
                target = handles[op.inputs[0]]
                calls.append(Call(op.method, args, dict(op.kwargs), target=target, keep="all"))
                texts.append(op_text(op, first + k))
                where.append((p, first + k))
        replies = _batch(ctx, calls, texts)
        made: dict[tuple[int, int], Handle] = {}
        for reply, text, key in zip(replies, texts, where):
            made[key] = _handle(reply, text, nodes[key[0]][0].type_name)
        for (p, index), handle in sorted(made.items()):
            assert len(nodes[p]) == index, "operations are replayed in order"
            nodes[p].append(handle)
    return nodes


def read(handle: Handle, attr: str) -> Call:
    """A call that reads ``handle.attr`` (batched with others, unlike a getattr request)."""
    return Call("__getattribute__", (attr,), target=handle)


def step_call(step: Step, root: Handle) -> Call:
    """``root.backward(...)`` or ``root.zero_grad()``, as the step says."""
    if step.action == "zero_grad":
        return Call("zero_grad", (), target=root)
    return Call("backward", () if step.grad is None else (step.grad,), target=root)


@dataclass(frozen=True)
class Seen:
    """What the student's Value holds after a program: every node's data and grad."""

    data: tuple[Any, ...]
    grads: tuple[Any, ...]


def run(
    ctx: Context, programs: Sequence[Program], reads: str | Sequence[str] = "all"
) -> list[Seen]:
    """Replay each program, run its steps on its last node and read every node's data and
    grad (``reads="all"``) or only the last node's data (``"root"``); ``reads`` is one word
    for every program or one per program. Raw values (see ``array``)."""
    nodes = build(ctx, programs)
    how = [reads] * len(programs) if isinstance(reads, str) else list(reads)
    calls, texts = [], []
    for program, handles, reads in zip(programs, nodes, how):
        for step in program.steps:
            calls.append(step_call(step, handles[-1]))
            texts.append(step_text(program, step))
        wanted = handles[-1:] if reads == "root" else handles
        first = len(handles) - len(wanted)
        attrs = ("data",) if reads == "root" else ("data", "grad")
        for attr in attrs:
            calls += [read(h, attr) for h in wanted]
            texts += [f"reading n{first + i}.{attr}" for i in range(len(wanted))]
    replies = iter(_batch(ctx, calls, texts))
    seen = []
    for program, handles, reads in zip(programs, nodes, how):
        for _ in program.steps:
            next(replies)
        count = 1 if reads == "root" else len(handles)
        got_data = tuple(next(replies).value for _ in range(count))
        got_grads = () if reads == "root" else tuple(next(replies).value for _ in range(count))
        seen.append(Seen(got_data, got_grads))
    return seen


def array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``value`` as a float64 ndarray; a bad_output failure unless it is one (of any shape:
    the caller compares shapes, which may name a mistake)."""
    if is_real_scalar(value) and shape == ():
        value = np.asarray(value, dtype=np.float64)
    if not isinstance(value, np.ndarray):
        kind = value.type_name if isinstance(value, Other) else type(value).__name__
        raise fail(
            Outcome.BAD_OUTPUT,
            f"{name} is {kind}, not a float64 ndarray of shape {shape}",
        )
    if value.dtype != np.float64:
        raise fail(
            Outcome.BAD_OUTPUT,
            f"{name} has dtype {value.dtype}; expected float64 (np.array(data, dtype=np.float64))",
        )
    return value
