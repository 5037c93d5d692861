"""The known mistakes of the ``parallel`` topic and their models.

A model gets the trusted reference module and the inputs of the failing call (``(dout, x, W1,
b1, W2, b2)`` for ``split_backward``) and returns what the mistaken code returns.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from grader.checks.base import Misconception

SPLIT, GRADS, RING, BYTES = "split_batch", "worker_gradients", "ring_allreduce", "allreduce_bytes"
DATA, FORWARD, BACKWARD = "data_parallel_gradient", "split_forward", "split_backward"
LOADER = "loader_step_times"

SUMMED = "gradients summed where the mean was asked"
UNWEIGHTED = "unweighted mean of the worker gradients"
UNEVEN_DROPPED = "uneven last chunk dropped"
REMAINDER_LAST = "remainder given to the last worker"
REDUCE_ONLY = "all-reduce that only reduces"
AVERAGED = "all-reduce averages instead of summing"
ONE_PHASE = "only one phase of the all-reduce counted"
WHOLE_BUFFER = "whole buffer sent at every step"
NO_CROSS_GRADIENT = "model-parallel backward skips the cross-device gradient"
NO_PREFETCH = "a loader without prefetch"
UNBOUNDED = "queue not bounded by prefetch"
FIRST_LOAD_FREE = "the first batch's load not counted"


# -- data parallelism --------------------------------------------------------------------------
def _floor_chunks(a: np.ndarray, K: int, rest_to_last: bool) -> list[np.ndarray]:
    s = len(a) // K
    chunks = [a[k * s : (k + 1) * s] for k in range(K)]
    if rest_to_last:
        chunks[-1] = a[(K - 1) * s :]
    return chunks


def _dropped(ref: ModuleType, X: np.ndarray, y: np.ndarray, K: int) -> tuple:
    return _floor_chunks(X, K, False), _floor_chunks(y, K, False)


def _rest_last(ref: ModuleType, X: np.ndarray, y: np.ndarray, K: int) -> tuple:
    return _floor_chunks(X, K, True), _floor_chunks(y, K, True)


def _worker_sums(ref: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int) -> tuple:
    grads, counts = ref.worker_gradients(W, X, y, K)
    return [g * n for g, n in zip(grads, counts)], counts


def _sum_of_means(ref: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int):
    return np.sum(ref.worker_gradients(W, X, y, K)[0], axis=0)


def _sum_over_examples(ref: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int):
    return ref.softmax_loss(W, X, y)[1] * len(y)


def _unweighted(ref: ModuleType, W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int):
    return np.mean(ref.worker_gradients(W, X, y, K)[0], axis=0)


def _reduce_scatter(shift: int):
    """The buffers after the reduce-scatter alone; ``shift`` 0 is the reference's ring (worker k
    ends with chunk (k + 1) % K complete), 1 the ring where worker k ends with chunk k."""

    def variant(ref: ModuleType, chunks: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        K = len(chunks)
        if K < 2:
            raise ValueError("nothing to reduce")
        buf = [[np.array(c, dtype=np.float64) for c in w] for w in chunks]
        for s in range(K - 1):
            sent = [(k, (k - s - shift) % K, buf[k][(k - s - shift) % K].copy()) for k in range(K)]
            for k, c, data in sent:
                buf[(k + 1) % K][c] = buf[(k + 1) % K][c] + data
        return buf

    return variant


def _averaged(ref: ModuleType, chunks: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    K = len(chunks)
    return [[c / K for c in w] for w in ref.ring_allreduce(chunks)]


def _one_phase(ref: ModuleType, size_bytes: float, K: int) -> float:
    return (K - 1) / K * size_bytes


def _whole_buffer(ref: ModuleType, size_bytes: float, K: int) -> float:
    return 2.0 * (K - 1) * size_bytes


# -- model parallelism -------------------------------------------------------------------------
def _no_cross(ref: ModuleType, dout: np.ndarray, *args: np.ndarray) -> tuple:
    _, _, cache = ref.split_forward(*args)
    dx, dW1, db1, dW2, db2 = ref.split_backward(dout, cache)
    return np.zeros_like(dx), np.zeros_like(dW1), np.zeros_like(db1), dW2, db2


# -- the loader --------------------------------------------------------------------------------
def _no_prefetch(ref: ModuleType, load, compute, steps: int, prefetch: int) -> np.ndarray:
    if prefetch == 0:
        raise ValueError("prefetch 0 is the loader without prefetch")
    return ref.loader_step_times(load, compute, steps, 0)


def _unbounded(ref: ModuleType, load, compute, steps: int, prefetch: int) -> np.ndarray:
    if prefetch == 0:
        raise ValueError("no queue")
    return ref.loader_step_times(load, compute, steps, steps)


def _first_free(ref: ModuleType, load, compute, steps: int, prefetch: int) -> np.ndarray:
    if prefetch == 0:
        raise ValueError("no loader thread")
    return np.broadcast_to(np.maximum(load, compute), (steps,)).astype(np.float64)


_MEAN_HINT = (
    "the full-batch gradient is the MEAN over all N examples: worker k's mean gradient enters "
    "with the weight n_k / N (sum of the weighted gradients), not summed as it is"
)
_SPLIT_HINT = (
    "split like np.array_split: the first N % K workers get N // K + 1 examples, the others "
    "N // K, and every example goes to a worker"
)
_REDUCE_HINT = (
    "after the reduce-scatter each worker holds the full sum of one chunk only; the all-gather "
    "(K - 1 more steps, the receiver replacing its chunk) gives every worker every summed chunk"
)

MISCONCEPTIONS = (
    Misconception(SPLIT, UNEVEN_DROPPED, _SPLIT_HINT, _dropped),
    Misconception(SPLIT, REMAINDER_LAST, _SPLIT_HINT, _rest_last),
    Misconception(
        GRADS,
        SUMMED,
        "each worker's gradient is the mean over its own chunk (softmax_loss's dW), not the sum",
        _worker_sums,
    ),
    Misconception(DATA, SUMMED, _MEAN_HINT, _sum_of_means),
    Misconception(DATA, SUMMED, _MEAN_HINT, _sum_over_examples),
    Misconception(
        DATA,
        UNWEIGHTED,
        "chunks differ in size when K does not divide N: weight worker k's mean gradient by "
        "n_k / N instead of taking the plain mean over the K workers",
        _unweighted,
    ),
    Misconception(RING, REDUCE_ONLY, _REDUCE_HINT, _reduce_scatter(0)),
    Misconception(RING, REDUCE_ONLY, _REDUCE_HINT, _reduce_scatter(1)),
    Misconception(
        RING,
        AVERAGED,
        "ring_allreduce returns the SUM over workers; any averaging is the caller's (the "
        "weights n_k / N in data_parallel_gradient)",
        _averaged,
    ),
    Misconception(
        BYTES,
        ONE_PHASE,
        "each worker sends K - 1 chunks of size / K in the reduce-scatter and K - 1 more in the "
        "all-gather: 2 (K - 1) / K * size",
        _one_phase,
    ),
    Misconception(
        BYTES,
        WHOLE_BUFFER,
        "a ring step sends one chunk (size / K), not the whole buffer: 2 (K - 1) / K * size",
        _whole_buffer,
    ),
    Misconception(
        BACKWARD,
        NO_CROSS_GRADIENT,
        "device 1 must send dh = dout W2^T back across the split: device 0's gradients (dx, "
        "dW1, db1) are computed from it",
        _no_cross,
    ),
    Misconception(
        LOADER,
        NO_PREFETCH,
        "with prefetch >= 1 the loader thread loads the next batches while the loop computes: "
        "after the first step a step takes max(load, compute), not load + compute",
        _no_prefetch,
    ),
    Misconception(
        LOADER,
        UNBOUNDED,
        "the queue holds at most prefetch batches: the loader may put batch i in only once "
        "batch i - prefetch has been taken out",
        _unbounded,
    ),
    Misconception(
        LOADER,
        FIRST_LOAD_FREE,
        "nothing is loaded before step 0: the first step waits for its batch (load + compute)",
        _first_free,
    ),
)
