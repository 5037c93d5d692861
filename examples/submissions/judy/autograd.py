"""judy: a micrograd-style engine (each operation's closure adds into its parents' grads), with
three mistakes students really make."""

import numpy as np


def unbroadcast(grad, shape):
    grad = np.asarray(grad, dtype=np.float64)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return np.array(grad, dtype=np.float64)


class Value:
    __array_ufunc__ = None

    def __init__(self, data, _parents=(), _op=""):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(_parents)
        self._op = _op
        self._backward = lambda: None  # adds this node's contributions into its parents

    @staticmethod
    def _lift(other):
        return other if isinstance(other, Value) else Value(other)

    def _add_to(self, g):
        self.grad = np.asarray(self.grad + unbroadcast(g, self.data.shape))

    def add(self, other):
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "add")

        def _backward():
            self._add_to(out.grad)
            other._add_to(out.grad)

        out._backward = _backward
        return out

    def mul(self, other):
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "mul")

        def _backward():
            # BUG: the broadcast gradients are not summed back to each input's shape
            self.grad = self.grad + other.data * out.grad
            other.grad = other.grad + self.data * out.grad

        out._backward = _backward
        return out

    def pow(self, exponent):
        out = Value(self.data**exponent, (self,), "pow")

        def _backward():
            self._add_to(exponent * self.data ** (exponent - 1) * out.grad)

        out._backward = _backward
        return out

    def matmul(self, other):
        other = Value._lift(other)
        out = Value(self.data @ other.data, (self, other), "matmul")

        def _backward():
            self._add_to(out.grad @ other.data.T)
            other._add_to(self.data.T @ out.grad)

        out._backward = _backward
        return out

    def exp(self):
        out = Value(np.exp(self.data), (self,), "exp")
        out._backward = lambda: self._add_to(out.data * out.grad)
        return out

    def log(self):
        out = Value(np.log(self.data), (self,), "log")
        out._backward = lambda: self._add_to(out.grad / self.data)
        return out

    def tanh(self):
        out = Value(np.tanh(self.data), (self,), "tanh")
        # BUG: 1 - x**2 with the input x, instead of 1 - tanh(x)**2
        out._backward = lambda: self._add_to((1 - self.data**2) * out.grad)
        return out

    def relu(self):
        out = Value(np.maximum(self.data, 0), (self,), "relu")
        out._backward = lambda: self._add_to((self.data > 0) * out.grad)
        return out

    def sum(self, axis=None, keepdims=False):
        out = Value(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward():
            g = out.grad
            if not keepdims:
                axes = range(self.data.ndim) if axis is None else np.atleast_1d(axis)
                g = np.expand_dims(g, tuple(a % self.data.ndim for a in axes))
            self._add_to(np.broadcast_to(g, self.data.shape))

        out._backward = _backward
        return out

    def topological_order(self):
        topo, visited = [], set()

        def build(v):
            if id(v) not in visited:
                visited.add(id(v))
                for p in v._parents:
                    build(p)
                topo.append(v)

        build(self)
        return topo

    def backward(self, grad=None):
        if grad is None:
            if self.data.size != 1:
                raise ValueError("backward() needs grad for a non-scalar output")
            grad = np.ones_like(self.data)
        self.grad = np.array(grad, dtype=np.float64)
        for v in reversed(self.topological_order()):
            v._backward()

    def zero_grad(self):
        # BUG: only this node is reset; every other node keeps the last pass's gradient
        self.grad = np.zeros_like(self.data)

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self.add(other)

    def __mul__(self, other):
        return self.mul(other)

    def __rmul__(self, other):
        return self.mul(other)

    def __neg__(self):
        return self.mul(-1.0)

    def __sub__(self, other):
        return self.add(-Value._lift(other))

    def __rsub__(self, other):
        return (-self).add(other)

    def __truediv__(self, other):
        return self.mul(Value._lift(other).pow(-1))

    def __rtruediv__(self, other):
        return self.pow(-1).mul(other)

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __matmul__(self, other):
        return self.matmul(other)

    def __repr__(self):
        return f"Value(shape={self.data.shape}, op={self._op!r})"
