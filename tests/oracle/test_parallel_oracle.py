"""The reference parallel training (solutions/parallel.py) against independent oracles.

- split_batch: torch.tensor_split (the same semantics as np.array_split, computed by torch).
- worker_gradients and data_parallel_gradient (split, per-worker gradients, weights n_k / N,
  the ring all-reduce): torch autograd of the mean cross-entropy, per chunk and over the whole
  batch.
- ring_allreduce: every worker's buffer against torch's sum over workers; and a ring written
  here that logs each send, whose buffers equal the reference's exactly (the same sends in the
  same order give the same roundings), so that allreduce_bytes is compared with a count of what
  the ring sends.
- split_forward / split_backward: torch autograd of the unsplit two-layer net.
- loader_step_times: the closed form for constant times (load + compute, then max(load,
  compute) with prefetch >= 1) and laws for random times (a deeper queue is never slower).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import load_solution
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import float_arrays

EXAMPLES = settings(deadline=None, max_examples=40)


@pytest.fixture(scope="module")
def ref():
    return load_solution("parallel")


@st.composite
def batches(draw):
    N = draw(st.integers(1, 12))
    D = draw(st.integers(1, 5))
    C = draw(st.integers(2, 5))
    K = draw(st.integers(1, N + 2))
    X = draw(float_arrays((N, D)))
    y = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)), dtype=np.int64)
    W = draw(float_arrays((D, C)))
    return W, X, y, K


def _torch_grad(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    Wt = torch.from_numpy(W.copy()).requires_grad_(True)
    F.cross_entropy(torch.from_numpy(X) @ Wt, torch.from_numpy(y)).backward()
    return Wt.grad.numpy()


@EXAMPLES
@given(batches())
def test_split_batch_is_torch_tensor_split(ref, batch):
    _, X, y, K = batch
    X_chunks, y_chunks = ref.split_batch(X, y, K)
    want_X = torch.tensor_split(torch.from_numpy(X), K)
    want_y = torch.tensor_split(torch.from_numpy(y), K)
    assert len(X_chunks) == len(y_chunks) == K
    for got, want in zip(X_chunks + y_chunks, list(want_X) + list(want_y)):
        np.testing.assert_array_equal(got, want.numpy())
        assert got.shape == tuple(want.shape)


@EXAMPLES
@given(batches())
def test_worker_gradients_are_torch_means_per_chunk(ref, assert_close, batch):
    W, X, y, K = batch
    grads, counts = ref.worker_gradients(W, X, y, K)
    for g, n, Xk, yk in zip(grads, counts, np.array_split(X, K), np.array_split(y, K)):
        assert n == len(yk)
        want = _torch_grad(W, Xk, yk) if n else np.zeros_like(W)
        assert_close(g, want, what="worker gradient")


@EXAMPLES
@given(batches())
def test_data_parallel_gradient_is_the_full_batch_torch_gradient(ref, assert_close, batch):
    W, X, y, K = batch
    assert_close(ref.data_parallel_gradient(W, X, y, K), _torch_grad(W, X, y), what="dW")


def _logged_ring(chunks: list[list[np.ndarray]]) -> tuple[list[list[np.ndarray]], list[tuple]]:
    """The ring of the docstring, written again, logging (phase, step, src, dst, chunk, nbytes)."""
    K = len(chunks)
    buf = [[np.array(c, dtype=np.float64) for c in w] for w in chunks]
    log = []
    for phase, first in (("reduce-scatter", 0), ("all-gather", 1)):
        for s in range(K - 1):
            moves = [(k, (k + first - s) % K) for k in range(K)]
            data = [buf[k][c].copy() for k, c in moves]
            for (k, c), d in zip(moves, data):
                dst = (k + 1) % K
                buf[dst][c] = buf[dst][c] + d if phase == "reduce-scatter" else d
                log.append((phase, s, k, dst, c, d.nbytes))
    return buf, log


@st.composite
def rings(draw):
    K = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(0, 4), min_size=K, max_size=K))
    return [[draw(float_arrays((m,))) for m in sizes] for _ in range(K)]


@EXAMPLES
@given(rings())
def test_ring_allreduce_sums_like_torch_on_every_worker(ref, assert_close, chunks):
    before = [[c.copy() for c in w] for w in chunks]
    buffers = ref.ring_allreduce(chunks)
    K = len(chunks)
    assert len(buffers) == K and all(len(w) == K for w in buffers)
    for c in range(K):
        want = torch.stack([torch.from_numpy(w[c]) for w in chunks]).sum(dim=0).numpy()
        for k in range(K):
            assert_close(buffers[k][c], want, what=f"worker {k} chunk {c}")
    for w, b in zip(chunks, before):
        for c, cb in zip(w, b):
            np.testing.assert_array_equal(c, cb)  # inputs unchanged


@EXAMPLES
@given(rings())
def test_the_logged_ring_is_the_reference_ring(ref, chunks):
    logged, _ = _logged_ring(chunks)
    for got, want in zip(ref.ring_allreduce(chunks), logged):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 7, 8])
@pytest.mark.parametrize("m", [1, 5])
def test_allreduce_bytes_is_what_the_ring_sends(ref, K, m):
    rng = np.random.default_rng(K * 10 + m)
    chunks = [[rng.standard_normal(m) for _ in range(K)] for _ in range(K)]
    _, log = _logged_ring(chunks)
    size = K * m * 8  # each worker's buffer, in bytes
    for k in range(K):
        sent = sum(nbytes for _, _, src, _, _, nbytes in log if src == k)
        assert sent == pytest.approx(ref.allreduce_bytes(float(size), K), rel=1e-12)
        assert sum(1 for entry in log if entry[2] == k) == 2 * (K - 1)


@st.composite
def nets(draw):
    N, D, H, C = (draw(st.integers(1, 5)) for _ in range(4))
    return tuple(draw(float_arrays(s)) for s in [(N, D), (D, H), (H,), (H, C), (C,)]) + (
        draw(float_arrays((N, C))),
    )


@EXAMPLES
@given(nets())
def test_split_net_is_the_unsplit_net_under_torch_autograd(ref, assert_close, net):
    x, W1, b1, W2, b2, dout = net
    out, sent, cache = ref.split_forward(x, W1, b1, W2, b2)
    grads = ref.split_backward(dout, cache)
    leaves = [torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, W1, b1, W2, b2)]
    xt, W1t, b1t, W2t, b2t = leaves
    h = torch.relu(xt @ W1t + b1t)
    out_t = h @ W2t + b2t
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="out")
    assert_close(sent, h.detach().numpy(), what="sent")
    for name, g, leaf in zip(("dx", "dW1", "db1", "dW2", "db2"), grads, leaves):
        assert_close(g, leaf.grad.numpy(), what=name)


@EXAMPLES
@given(
    load=st.floats(0.5, 50.0),
    compute=st.floats(0.5, 50.0),
    steps=st.integers(1, 12),
    prefetch=st.integers(0, 5),
)
def test_loader_closed_form_for_constant_times(ref, load, compute, steps, prefetch):
    times = ref.loader_step_times(load, compute, steps, prefetch)
    steady = load + compute if prefetch == 0 else max(load, compute)
    want = np.array([load + compute] + [steady] * (steps - 1))
    assert times.dtype == np.float64 and times.shape == (steps,)
    np.testing.assert_allclose(times, want, rtol=1e-12)


@EXAMPLES
@given(st.data(), st.integers(1, 15))
def test_a_deeper_queue_is_never_slower(ref, data, steps):
    load = data.draw(float_arrays((steps,), elements=st.floats(0.5, 30.0)))
    compute = data.draw(float_arrays((steps,), elements=st.floats(0.5, 30.0)))
    totals = [ref.loader_step_times(load, compute, steps, p).sum() for p in range(6)]
    assert all(b <= a + 1e-9 for a, b in zip(totals, totals[1:]))
    assert totals[0] == pytest.approx(float(np.sum(load + compute)))
    assert totals[-1] >= max(load.sum(), compute.sum()) - 1e-9  # neither side can be beaten
