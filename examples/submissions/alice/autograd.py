"""A small reverse-mode automatic differentiation engine over numpy arrays (micrograd, with
arrays instead of Python floats).

Conventions:

- A ``Value`` holds ``data``, a float64 ndarray (0-d for a scalar): ``Value(data)`` stores
  ``np.array(data, dtype=np.float64)``, a copy. ``grad`` is a float64 ndarray of data's shape,
  zeros until a backward pass reaches the node.
- Every operation returns a new Value and records the Values it was computed from
  (``_parents``) and its local rule (``_backward``); nothing modifies ``data`` in place.
  Operands that are not Values (Python numbers, ndarrays) are wrapped as constant leaf Values;
  the exponent of ``pow`` / ``**`` is a plain number, never a Value.
- Binary operations broadcast as numpy does ((3, 1) + (1, 4) is (3, 4); a scalar times a
  matrix is a matrix). The gradient that reaches an input is summed back to that input's shape
  (``unbroadcast``), so ``x.grad`` always has ``x.data``'s shape.
- ``backward(grad=None)`` seeds the output's gradient and visits the graph in reverse
  topological order: each node's local rule runs once, after every node computed from it has
  run, and its contributions are ADDED to its parents' grads, so a node used twice (a + a, or a
  shared subexpression) receives the sum. Without ``grad`` the seed is ones, which is allowed
  only for a scalar output (data.size == 1; ValueError otherwise); with ``grad`` (an array of
  data's shape) the seed is that upstream gradient.
- Gradients accumulate: backward() sets the output's grad to the seed and only adds to every
  other node, so a second backward pass over the same graph adds onto what the first left
  there (and passes it on again from the interior nodes). Call ``zero_grad()`` on the output
  between two passes: it resets the grad of every node of its graph (itself and every Value it
  was computed from) to zeros.
- Only ``data``, ``grad``, the methods and the operators are graded; ``_parents``,
  ``_backward`` and ``_op`` are this design's suggestion, and any other internal design (a
  closure per operation that adds into its parents' grads, as in micrograd) is as good.
- Kinks: relu passes the gradient only where x > 0 (0 at x == 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient of a broadcast result back to the shape of the input that was broadcast.

    numpy broadcasting (a) prepends axes of size 1 to the shorter shape and (b) stretches axes
    of size 1; the gradient with respect to the input is the sum of grad over every axis added
    in (a) and every stretched axis of (b), the latter kept with size 1.

    Inputs:
    - grad: float64 array of a shape that ``shape`` broadcasts to, e.g. (2, 3, 4).
    - shape: tuple of ints, the input's shape, e.g. (3, 1) or () for a scalar.

    Returns:
    - out: a new float64 ndarray of shape exactly ``shape`` (0-d for shape ()); grad itself is
      left unchanged and never returned, even when its shape is already ``shape``.
    """
    shape = tuple(shape)
    out = np.asarray(grad, dtype=np.float64)
    extra = out.ndim - len(shape)
    if extra > 0:
        out = out.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and out.shape[i] != 1)
    if stretched:
        out = out.sum(axis=stretched, keepdims=True)
    out = np.array(out, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"a gradient of shape {np.shape(grad)} does not broadcast from {shape}")
    return out


class Value:
    """A node of a computation graph: an array, its gradient, and how it was computed.

    Attributes:
    - data: float64 ndarray (0-d for a scalar).
    - grad: float64 ndarray of data's shape, d(output)/d(data) after output.backward();
      zeros until then.
    - _parents: tuple of the Values this one was computed from (empty for a leaf), in operand
      order; a Value used twice (a + a) appears twice.
    - _backward: the local rule, a function of this node's grad (an array of data's shape) that
      returns one gradient contribution per parent, in the order of _parents. A contribution has
      the parent's shape or the broadcast shape of the operation; backward() sums it back to the
      parent's shape with unbroadcast. A leaf's _backward returns ().
    - _op: the operation's name ('add', 'mul', 'exp', ...; '' for a leaf), for printing only.

    Operators (given code): a + b, a - b, a * b, a / b, -a, a ** n, a @ b and the reflected forms
    (2 * a, 1 - a, 3 / a) call the methods add, mul, pow and matmul below.
    """

    __array_ufunc__ = None  # ndarray + Value calls Value.__radd__ instead of numpy (given code)

    def __init__(self, data: Any, _parents: Sequence[Value] = (), _op: str = "") -> None:
        """Create a node.

        Inputs:
        - data: a number, a nested list or an ndarray of any shape; stored as
          np.array(data, dtype=np.float64) (a float64 copy, 0-d for a number).
        - _parents: the Values this one was computed from (an operation passes them; a leaf
          has none).
        - _op: the operation's name, for printing.

        Sets data, grad (zeros of data's shape, float64), _parents (a tuple), _op and
        _backward (for a leaf, a function returning ()).
        """
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self._parents: tuple[Value, ...] = tuple(_parents)
        self._op = _op
        self._backward = lambda g: ()

    @staticmethod
    def _lift(other: Any) -> Value:
        """other itself if it is a Value, else a constant leaf Value(other) (given code)."""
        return other if isinstance(other, Value) else Value(other)

    def add(self, other: Any) -> Value:
        """self + other, broadcast as numpy does.

        Inputs:
        - other: a Value, a number or an ndarray whose shape broadcasts with self.data's.

        Returns:
        - out: a Value of the broadcast shape. Local rule: the upstream gradient passes
          unchanged to both inputs (each then summed back to its own shape).
        """
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "add")
        out._backward = lambda g: (g, g)
        return out

    def mul(self, other: Any) -> Value:
        """self * other, elementwise, broadcast as numpy does.

        Inputs:
        - other: a Value, a number or an ndarray whose shape broadcasts with self.data's.

        Returns:
        - out: a Value of the broadcast shape. Local rule: the inputs swap,
          d(a*b)/da = b and d(a*b)/db = a (times the upstream gradient).
        """
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "mul")
        out._backward = lambda g: (g * other.data, g * self.data)
        return out

    def pow(self, exponent: float) -> Value:
        """self ** exponent, elementwise.

        Inputs:
        - exponent: a Python int or float (not a Value). For a non-integer exponent every
          element of self.data must be positive; for a negative one, nonzero.

        Returns:
        - out: a Value of self's shape. Local rule: exponent * self.data ** (exponent - 1).
        """
        n = float(exponent)
        out = Value(self.data**n, (self,), "pow")
        out._backward = lambda g: (g * n * self.data ** (n - 1),)
        return out

    def matmul(self, other: Any) -> Value:
        """Matrix product self @ other of two 2-D arrays.

        Inputs:
        - other: a Value (or ndarray) of shape (K, M); self.data has shape (N, K).

        Returns:
        - out: a Value of shape (N, M). Local rule: g @ other.T for self, self.T @ g for other.
        """
        other = Value._lift(other)
        out = Value(self.data @ other.data, (self, other), "matmul")
        out._backward = lambda g: (g @ other.data.T, self.data.T @ g)
        return out

    def exp(self) -> Value:
        """Elementwise exponential; local rule exp(x) (the output itself).

        Returns:
        - out: a Value of self's shape.
        """
        out = Value(np.exp(self.data), (self,), "exp")
        out._backward = lambda g: (g * out.data,)
        return out

    def log(self) -> Value:
        """Elementwise natural logarithm (self.data must be positive); local rule 1 / x.

        Returns:
        - out: a Value of self's shape.
        """
        out = Value(np.log(self.data), (self,), "log")
        out._backward = lambda g: (g / self.data,)
        return out

    def tanh(self) -> Value:
        """Elementwise hyperbolic tangent; local rule 1 - tanh(x)**2, from the output.

        Returns:
        - out: a Value of self's shape.
        """
        out = Value(np.tanh(self.data), (self,), "tanh")
        out._backward = lambda g: (g * (1.0 - out.data**2),)
        return out

    def relu(self) -> Value:
        """Elementwise max(x, 0): the gradient goes to x where x > 0 (the larger of x and 0),
        and is 0 where x <= 0.

        Returns:
        - out: a Value of self's shape.
        """
        out = Value(np.maximum(self.data, 0.0), (self,), "relu")
        out._backward = lambda g: (g * (self.data > 0),)
        return out

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Sum of elements, as np.sum(self.data, axis=axis, keepdims=keepdims).

        Inputs:
        - axis: None (every element: a 0-d result), an int or a tuple of ints; negative axes
          count from the end.
        - keepdims: keep the summed axes with size 1.

        Returns:
        - out: a Value of the reduced shape. Local rule: the upstream gradient is copied back to
          every element that was summed (broadcast to self's shape).
        """
        out = Value(np.sum(self.data, axis=axis, keepdims=keepdims), (self,), "sum")
        if axis is None:
            axes = tuple(range(self.data.ndim))
        else:
            axes = tuple(a % self.data.ndim for a in np.atleast_1d(axis).tolist())

        def local(g: np.ndarray) -> tuple[np.ndarray]:
            kept = g if keepdims else np.expand_dims(g, axes)
            return (np.broadcast_to(kept, self.data.shape),)

        out._backward = local
        return out

    def topological_order(self) -> list[Value]:
        """Every node this one was computed from, itself included, each exactly once, ordered so
        that every node comes after all of its parents (this node last).

        Returns:
        - order: list of Values (a depth-first post-order of the graph).
        """
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node._parents) if id(p) not in seen)
        return order

    def backward(self, grad: np.ndarray | None = None) -> None:
        """Reverse-mode pass: fill in the grad of every node of the graph, d(self)/d(node).

        Inputs:
        - grad: the upstream gradient, an array of self.data's shape; or None for a scalar
          output (data.size == 1), seeded with ones. None on an output with more than one
          element raises ValueError.

        Sets self.grad to the seed (a float64 copy), then runs each node's local rule in reverse
        topological order (every node after all the nodes computed from it), adding each
        contribution, summed back to the parent's shape with unbroadcast, to the parent's grad.
        Other nodes' grads are added to, not reset: call zero_grad() between two passes.
        Returns None.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without grad needs a scalar output, not shape {self.data.shape}"
                )
            grad = np.ones_like(self.data)
        seed = np.array(grad, dtype=np.float64)
        if seed.shape != self.data.shape:
            raise ValueError(f"grad has shape {seed.shape}, the output {self.data.shape}")
        self.grad = seed
        for node in reversed(self.topological_order()):
            for parent, g in zip(node._parents, node._backward(node.grad)):
                parent.grad = np.asarray(parent.grad + unbroadcast(g, parent.data.shape))

    def zero_grad(self) -> None:
        """Reset the grad of every node of this graph (this node and every Value it was computed
        from) to zeros of its data's shape. Returns None."""
        for node in self.topological_order():
            node.grad = np.zeros_like(node.data)

    # -- operators (given code): each calls one of the methods above ---------------------------
    def __add__(self, other: Any) -> Value:
        return self.add(other)

    def __radd__(self, other: Any) -> Value:
        return self.add(other)

    def __mul__(self, other: Any) -> Value:
        return self.mul(other)

    def __rmul__(self, other: Any) -> Value:
        return self.mul(other)

    def __neg__(self) -> Value:
        return self.mul(-1.0)

    def __sub__(self, other: Any) -> Value:
        return self.add(-Value._lift(other))

    def __rsub__(self, other: Any) -> Value:
        return (-self).add(other)

    def __truediv__(self, other: Any) -> Value:
        return self.mul(Value._lift(other).pow(-1))

    def __rtruediv__(self, other: Any) -> Value:
        return self.pow(-1).mul(other)

    def __pow__(self, exponent: float) -> Value:
        return self.pow(exponent)

    def __matmul__(self, other: Any) -> Value:
        return self.matmul(other)

    def __repr__(self) -> str:
        return f"Value(shape={self.data.shape}, op={self._op!r})"
