"""Robustness: returns wrong values wrapped in types whose comparisons lie.

The array subclass claims to equal everything, answers every ufunc with "all true", and
survives np.asarray-style conversions; the float subclass equals everything too.
"""

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __ne__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs]).shape, dtype=bool)

    def __array_finalize__(self, obj):
        pass

    def __bool__(self):
        return True

    __hash__ = None


class LyingFloat(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0


def _wrong(shape):
    return np.full(shape, 12345.0).view(Liar)


def svm_loss_vectorized(W, X, y, reg):
    return LyingFloat(-1.0), _wrong(W.shape)


def softmax_loss_vectorized(W, X, y, reg):
    return -1.0, _wrong(W.shape)
