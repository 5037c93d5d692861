"""Parallel training, simulated in one process: data parallelism (batch split, per-worker
gradients, ring all-reduce), model parallelism (a two-layer net over two devices) and the
data-loading bottleneck (a prefetching loader as a discrete-event simulation).

Conventions:

- Workers and devices are simulated: a "worker" is an index k in 0..K-1 and what it holds is a
  Python list entry; "sending" is copying an array from one list entry to another.
- ``split_batch`` follows ``np.array_split``: the first ``N % K`` workers get one example more
  than the others (chunk sizes differ by at most one, no example is dropped, order is kept);
  with K > N the last workers get empty chunks.
- The loss is the softmax classifier's mean cross-entropy over the examples it is given, without
  regularisation (``softmax_loss``, given code). The full-batch gradient is the mean over all N
  examples, so worker k's mean gradient g_k (over its n_k examples) enters with the weight
  n_k / N: dW = sum_k (n_k / N) g_k, not the plain sum nor the unweighted mean of the g_k. An
  empty chunk's gradient is zeros (weight 0).
- Ring all-reduce over K workers, each holding its buffer as K chunks (chunk c may have any
  shape, the same on every worker). Worker k sends to worker (k + 1) % K only. Reduce-scatter:
  at step s = 0..K-2, every worker k sends its chunk (k - s) % K and the receiver adds it to its
  own; after it worker k holds the complete sum of chunk (k + 1) % K. All-gather: at step
  s = 0..K-2, worker k sends its chunk (k + 1 - s) % K and the receiver replaces its own with
  it. The sends of one step happen at once (each uses the values from before the step). Every
  worker ends with the elementwise sum over workers of every chunk.
- Bytes: each worker sends 2 (K - 1) chunks, i.e. 2 (K - 1) / K of its buffer when the chunks are
  equal; ``allreduce_bytes(size, K) = 2 * (K - 1) / K * size`` (0 for K = 1).
- Model parallelism: device 0 holds layer 1 (h = relu(x W1 + b1)), device 1 holds layer 2
  (out = h W2 + b2). ``sent`` is h, the activation sent from device 0 to device 1; the backward
  sends dh = dout W2^T back from device 1 to device 0, which needs it for dx, dW1 and db1.
- The loader: one loader thread fills a bounded queue of ``prefetch`` batches; the training loop
  takes a batch (waiting while the queue is empty) and computes on it. With ``prefetch = 0``
  there is no loader thread: the loop loads each batch itself. Simulated as discrete events, as
  the kit's virtual clock is one host clock that ``time.sleep`` advances: sleeping threads on it
  would run one after another, never overlapping, so no real threads are used.
"""

from __future__ import annotations

import numpy as np


def softmax_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax loss and gradient, the mean over the examples (given code).

    Inputs:
    - W: float64 array (D, C), the weights.
    - X: float64 array (n, D), n examples (n may be 0).
    - y: int array (n,), labels in 0..C-1.

    Returns a tuple of:
    - loss: float, the mean cross-entropy over the n examples (0.0 for n = 0).
    - dW: float64 array (D, C), the gradient of loss with respect to W (zeros for n = 0).
    """
    n = X.shape[0]
    if n == 0:
        return 0.0, np.zeros_like(W)
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = float(-np.log(probs[np.arange(n), y]).mean())
    probs[np.arange(n), y] -= 1.0
    return loss, X.T @ probs / n


def split_batch(
    X: np.ndarray, y: np.ndarray, K: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split a batch over K workers, in order, with np.array_split semantics.

    Inputs:
    - X: array (N, ...), the batch.
    - y: array (N,), its labels.
    - K: int >= 1, the number of workers.

    Returns a tuple of:
    - X_chunks: list of K arrays; chunk k is X[start_k:start_k + n_k], where the first N % K
      workers get n_k = N // K + 1 examples and the others N // K (no example dropped; empty
      chunks when K > N).
    - y_chunks: list of K arrays, the labels split the same way.
    """
    return np.array_split(X, K), np.array_split(y, K)


def worker_gradients(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each worker's gradient of softmax_loss on its own chunk of the batch.

    Inputs:
    - W: float64 array (D, C), the weights every worker holds.
    - X: float64 array (N, D), the batch.
    - y: int array (N,), its labels.
    - K: int >= 1, the number of workers (the batch is split with split_batch).

    Returns a tuple of:
    - grads: list of K float64 arrays (D, C); grads[k] is the mean gradient over worker k's
      chunk (softmax_loss's dW on that chunk; zeros for an empty chunk).
    - counts: int64 array (K,), the number of examples of each worker.
    """
    X_chunks, y_chunks = split_batch(X, y, K)
    grads = [softmax_loss(W, Xk, yk)[1] for Xk, yk in zip(X_chunks, y_chunks)]
    counts = np.array([len(yk) for yk in y_chunks], dtype=np.int64)
    return grads, counts


def ring_allreduce(chunks_per_worker: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Sum all-reduce on a ring of K workers: reduce-scatter, then all-gather.

    Inputs:
    - chunks_per_worker: list of K lists of K float64 arrays; chunks_per_worker[k][c] is chunk
      c of worker k's buffer (chunk c has the same shape on every worker). Not modified.

    Returns:
    - buffers: list of K lists of K float64 arrays; buffers[k][c] is worker k's final chunk c,
      equal to sum over workers j of chunks_per_worker[j][c], on every worker k.

    Simulate it step by step: worker k only sends to worker (k + 1) % K. Reduce-scatter, steps
    s = 0..K-2: worker k sends its chunk (k - s) % K, the receiver adds it to its own chunk.
    All-gather, steps s = 0..K-2: worker k sends its chunk (k + 1 - s) % K, the receiver
    replaces its own chunk with it. The sends of a step all use the values from before it.
    """
    K = len(chunks_per_worker)
    buf = [[np.array(c, dtype=np.float64) for c in worker] for worker in chunks_per_worker]
    for s in range(K - 1):  # reduce-scatter
        sent = [(k, (k - s) % K, buf[k][(k - s) % K].copy()) for k in range(K)]
        for k, c, data in sent:
            buf[(k + 1) % K][c] = buf[(k + 1) % K][c] + data
    # BUG: the all-gather is missing: each worker holds the full sum of one chunk only
    return buf


def allreduce_bytes(size_bytes: float, K: int) -> float:
    """Bytes each worker sends in a ring all-reduce of a buffer of size_bytes over K workers.

    Inputs:
    - size_bytes: float, the size of each worker's buffer in bytes.
    - K: int >= 1, the number of workers.

    Returns:
    - sent: float, 2 * (K - 1) / K * size_bytes (K - 1 chunks of size_bytes / K in the
      reduce-scatter and K - 1 in the all-gather; 0.0 for K = 1).
    """
    return 2.0 * (K - 1) / K * size_bytes


def data_parallel_gradient(W: np.ndarray, X: np.ndarray, y: np.ndarray, K: int) -> np.ndarray:
    """The full-batch gradient, computed by K data-parallel workers and a ring all-reduce.

    Inputs:
    - W: float64 array (D, C), the weights.
    - X: float64 array (N, D), the batch.
    - y: int array (N,), its labels.
    - K: int >= 1, the number of workers.

    Returns:
    - dW: float64 array (D, C), equal to softmax_loss(W, X, y)[1], the MEAN gradient over the
      whole batch: each worker scales its mean gradient by n_k / N, the scaled gradients
      (flattened, split into K chunks with np.array_split) are summed by ring_allreduce, and
      worker 0's buffer is returned in W's shape.
    """
    grads, counts = worker_gradients(W, X, y, K)
    # BUG: the worker gradients are summed; the mean over the batch weights them by n_k / N
    return np.sum(grads, axis=0)


def split_forward(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Forward pass of a two-layer net split over two devices.

    Inputs:
    - x: float64 array (N, D), on device 0.
    - W1: float64 array (D, H) and b1: float64 array (H,), layer 1, on device 0.
    - W2: float64 array (H, C) and b2: float64 array (C,), layer 2, on device 1.

    Returns a tuple of:
    - out: float64 array (N, C), h W2 + b2, computed on device 1.
    - sent: float64 array (N, H), h = relu(x W1 + b1), the activation device 0 sends to device 1.
    - cache: anything split_backward needs (x, W1, the pre-activation, h, W2).
    """
    a = x @ W1 + b1  # device 0
    h = np.maximum(a, 0.0)
    sent = h.copy()  # device 0 -> device 1
    out = sent @ W2 + b2  # device 1
    return out, h, (x, W1, a, sent, W2)


def split_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of the split two-layer net.

    Inputs:
    - dout: float64 array (N, C), upstream derivative of out.
    - cache: from split_forward.

    Returns a tuple of:
    - dx: float64 array (N, D).
    - dW1: float64 array (D, H), db1: float64 array (H,): device 0's gradients, computed from
      dh = dout W2^T, which device 1 sends back across the split.
    - dW2: float64 array (H, C), db2: float64 array (C,): device 1's gradients.
    """
    x, W1, a, h, W2 = cache
    dW2 = h.T @ dout  # device 1
    db2 = dout.sum(axis=0)
    dh = np.zeros((dout.shape[0], W2.shape[0]))  # BUG: dout @ W2.T is never sent back
    da = dh * (a > 0)  # device 0
    dW1 = x.T @ da
    db1 = da.sum(axis=0)
    dx = da @ W1.T
    return dx, dW1, db1, dW2, db2


def loader_step_times(
    load_ms: float | np.ndarray, compute_ms: float | np.ndarray, steps: int, prefetch: int
) -> np.ndarray:
    """Per-step times of a training loop fed by a prefetching loader (discrete-event simulation).

    Inputs:
    - load_ms: float, or float64 array (steps,): the time to load batch i, in ms.
    - compute_ms: float, or float64 array (steps,): the time to compute on batch i, in ms.
    - steps: int >= 1, the number of training steps.
    - prefetch: int >= 0, the capacity of the loader's queue; 0 means no loader thread (the loop
      loads each batch itself, then computes).

    Returns:
    - times: float64 array (steps,): times[i] = done[i] - done[i - 1] (done[-1] = 0), where
      done[i] is when the compute on batch i ends.

    With prefetch = 0 every step takes load + compute. With prefetch = p >= 1, starting at time
    0: the loader loads batch i from the moment it has put batch i - 1 into the queue; it puts
    batch i in as soon as it is loaded and batch i - p has been taken out (the queue holds at
    most p batches); the loop takes batch i once it is in the queue and the compute on batch
    i - 1 is done. The first step takes load + compute; with constant times every later step
    takes max(load, compute).
    """
    load = np.broadcast_to(np.asarray(load_ms, dtype=np.float64), (steps,))
    compute = np.broadcast_to(np.asarray(compute_ms, dtype=np.float64), (steps,))
    done = np.zeros(steps)
    if True:  # BUG: the loader never works ahead, whatever prefetch says
        done = np.cumsum(load + compute)
    else:
        put, taken = np.zeros(steps), np.zeros(steps)
        loader_free, last_done = 0.0, 0.0
        for i in range(steps):
            loaded = loader_free + load[i]
            put[i] = max(loaded, taken[i - prefetch]) if i >= prefetch else loaded
            loader_free = put[i]
            taken[i] = max(put[i], last_done)
            done[i] = last_done = taken[i] + compute[i]
    return np.diff(done, prepend=0.0)
