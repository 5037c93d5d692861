"""Inputs and laws of the ``rnn`` topic: seeded input makers for every function, and the
property bodies (laws a correct implementation obeys, checked with the student's own functions).

Used by the declarations in ``grader.topics.rnn``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from grader.checks.base import PASS, Context, Make, Verdict
from grader.checks.diagnose import Observation, compare_outputs, mismatch_verdict
from grader.checks.outputs import CACHE, conform, describe_call
from grader.checks.property import expect_close, student_outputs
from grader.checks.reference import backward_pass, param_names
from grader.judge.student import Call
from grader.topics.rnn.lstm_step import STEP_OUT

OUT = ("out", CACHE)
LOSS_X = ("loss", "dx")
TOL = 1e-7


# -- inputs ------------------------------------------------------------------------------------
def _weights(rng: np.random.Generator, D: int, H: int, gates: int) -> tuple:
    """Wx (D, gates*H), Wh (H, gates*H), b (gates*H,), scaled so pre-activations stay O(1)."""
    Wx = rng.standard_normal((D, gates * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, gates * H)) / np.sqrt(H)
    b = 0.5 * rng.standard_normal(gates * H)
    return Wx, Wh, b


def rnn_step(N: int, D: int, H: int, gates: int = 1) -> Make:
    """(x, prev_h, Wx, Wh, b) for rnn_step_forward; gates=4 with prev_c for the LSTM step."""

    def make(rng: np.random.Generator) -> tuple:
        x = rng.standard_normal((N, D))
        prev_h = np.tanh(rng.standard_normal((N, H)))
        if gates == 1:
            return (x, prev_h, *_weights(rng, D, H, 1))
        prev_c = rng.standard_normal((N, H))
        return (x, prev_h, prev_c, *_weights(rng, D, H, 4))

    return make


def lstm_step(N: int, D: int, H: int) -> Make:
    return rnn_step(N, D, H, gates=4)


def sequence(N: int, T: int, D: int, H: int, gates: int = 1) -> Make:
    """(x (N, T, D), h0 (N, H), Wx, Wh, b) for rnn_forward (gates=1) or lstm_forward (gates=4)."""

    def make(rng: np.random.Generator) -> tuple:
        x = rng.standard_normal((N, T, D))
        h0 = np.tanh(rng.standard_normal((N, H)))
        return (x, h0, *_weights(rng, D, H, gates))

    return make


def embedding(N: int, T: int, V: int, D: int, distinct: bool = False) -> Make:
    """(x int64 (N, T), W (V, D)); with V < N*T some word repeats; ``distinct``: none does."""

    def make(rng: np.random.Generator) -> tuple:
        if distinct:
            x = rng.permutation(V)[: N * T].reshape(N, T).astype(np.int64)
        else:
            x = rng.integers(0, V, size=(N, T), dtype=np.int64)
        return x, rng.standard_normal((V, D))

    return make


def temporal_affine(N: int, T: int, D: int, M: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)

    return make


def temporal_loss(N: int, T: int, V: int, mask: str = "some zeros", scale: float = 1.5) -> Make:
    """(x (N, T, V), y int64 (N, T), mask bool (N, T)).

    ``mask``: "some zeros" (every row keeps at least one position, at least one is masked),
    "masked row" (as "some zeros", and row 0 fully masked), "ones", "zeros".
    """

    def make(rng: np.random.Generator) -> tuple:
        x = scale * rng.standard_normal((N, T, V))
        y = rng.integers(0, V, size=(N, T), dtype=np.int64)
        if mask in ("ones", "zeros"):
            return x, y, np.full((N, T), mask == "ones")
        m = rng.random((N, T)) < 0.6
        m[:, 0] = True  # every row keeps a position ...
        m[:, -1] = False  # ... and masks one (T >= 2)
        if mask == "masked row":
            m[0] = False
        return x, y, m

    return make


# -- laws ----------------------------------------------------------------------------------------
def _evidence(
    ctx: Context, fn: str, args: tuple, got: tuple, names: tuple[str, ...]
) -> Observation:
    """One plain call of ``fn``, for ``expect_close`` to name a known mistake with."""
    return Observation(fn, describe_call(fn, param_names(ctx, fn), args), args, got, names)


def _picked(ctx: Context, calls: list[Call], expected: np.ndarray, fn: str) -> list[np.ndarray]:
    values = [r.value for r in ctx.student.batch(calls)]
    for v in values:
        conform(v, expected, f"{fn} -> next_h")
    return values


def rnn_forward_iterates_step(ctx: Context) -> Verdict:
    """h[:, t] == rnn_step_forward(x[:, t], h[:, t - 1], ...)[0], with the student's own h."""
    x, h0, Wx, Wh, b = args = sequence(3, 4, 3, 5)(ctx.rng)
    h = student_outputs(ctx, "rnn_forward", args, OUT)[0]
    prev = [h0] + [h[:, t - 1] for t in range(1, x.shape[1])]
    calls = [
        Call("rnn_step_forward", (x[:, t], prev[t], Wx, Wh, b), pick=0) for t in range(x.shape[1])
    ]
    steps = _picked(ctx, calls, h[:, 0], "rnn_step_forward")
    return expect_close(
        ctx,
        "rnn_forward",
        "h[:, t] == rnn_step_forward(x[:, t], h[:, t-1], Wx, Wh, b)[0] with your own "
        "rnn_step_forward (if its own checks fail, fix it first)",
        ("h",),
        (h,),
        (np.stack(steps, axis=1),),
        TOL,
    )


def lstm_forward_iterates_step(ctx: Context) -> Verdict:
    """h from lstm_forward == the next_h of the student's lstm_step_forward iterated from
    (h0, c0 = 0), carrying next_c."""
    x, h0, Wx, Wh, b = args = sequence(2, 4, 3, 3, gates=4)(ctx.rng)
    h = student_outputs(ctx, "lstm_forward", args, OUT)[0]
    prev_h, prev_c = h0, np.zeros_like(h0)
    steps = []
    for t in range(x.shape[1]):
        step_args = (x[:, t], prev_h, prev_c, Wx, Wh, b)
        prev_h, prev_c, _ = student_outputs(ctx, "lstm_step_forward", step_args, STEP_OUT)
        steps.append(prev_h)
    return expect_close(
        ctx,
        "lstm_forward",
        "h equals lstm_step_forward iterated from h0 and c0 = 0 (next_c carried) with your own "
        "lstm_step_forward (if its own checks fail, fix it first)",
        ("h",),
        (h,),
        (np.stack(steps, axis=1),),
        TOL,
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_gate_order(ctx: Context) -> Verdict:
    """x = 0 and prev_h = 0 leave only the biases: each gate reads its own bias block, and the
    blocks are drawn from disjoint ranges so that any other order changes next_h and next_c."""
    N, D, H = 3, 4, 5
    x, prev_h = np.zeros((N, D)), np.zeros((N, H))
    prev_c = ctx.rng.standard_normal((N, H))
    Wx = ctx.rng.standard_normal((D, 4 * H))
    Wh = ctx.rng.standard_normal((H, 4 * H))
    b_i, b_f = ctx.rng.uniform(-1.0, 1.0, H), ctx.rng.uniform(-1.0, 1.0, H)
    b_o, b_g = ctx.rng.uniform(1.0, 3.0, H), ctx.rng.uniform(-3.0, -1.0, H)
    b = np.concatenate([b_i, b_f, b_o, b_g])
    args = (x, prev_h, prev_c, Wx, Wh, b)
    got = student_outputs(ctx, "lstm_step_forward", args, STEP_OUT)
    next_c = _sigmoid(b_f) * prev_c + _sigmoid(b_i) * np.tanh(b_g)
    next_h = _sigmoid(b_o) * np.tanh(next_c)
    return expect_close(
        ctx,
        "lstm_step_forward",
        "with x = 0 and prev_h = 0, next_c == sigmoid(b_f) * prev_c + sigmoid(b_i) * tanh(b_g) "
        "and next_h == sigmoid(b_o) * tanh(next_c), for b split into blocks i, f, o, g",
        ("next_h", "next_c"),
        got[:2],
        (next_h, next_c),
        TOL,
        evidence=_evidence(ctx, "lstm_step_forward", args, got, STEP_OUT),
    )


def embedding_accumulates(ctx: Context) -> Verdict:
    """Every position holds the same word v: dW[v] is the sum of dout over all positions."""
    x, W = embedding(3, 4, 5, 3)(ctx.rng)
    v = int(x[0, 0])
    x = np.full_like(x, v)
    fn = "word_embedding_backward"
    run = backward_pass(ctx, "word_embedding_forward", fn, (x, W), ("dW",))
    want = np.zeros_like(W)
    want[v] = run.dout.sum(axis=(0, 1))
    comparisons = compare_outputs(("dW",), run.seen.got, (want,), TOL)
    if all(c.ok for c in comparisons):
        return PASS
    seen = replace(run.seen, call=run.seen.call + f" with every x == {v}")
    return mismatch_verdict(
        ctx, seen, comparisons, TOL, "the sum of dout over the positions of each word"
    )


def _loss(ctx: Context, args: tuple) -> tuple:
    return student_outputs(ctx, "temporal_softmax_loss", args, LOSS_X)


def masked_positions_ignored(ctx: Context) -> Verdict:
    """Changing x and y where mask is False changes neither the loss nor dx; dx is 0 there."""
    x, y, mask = temporal_loss(3, 5, 6)(ctx.rng)
    hidden = ~mask
    x2 = np.where(hidden[:, :, None], 4.0 * ctx.rng.standard_normal(x.shape), x)
    y2 = np.where(hidden, (y + 1 + ctx.rng.integers(0, x.shape[2] - 1, y.shape)) % x.shape[2], y)
    loss, dx = _loss(ctx, (x, y, mask))
    loss2, dx2 = _loss(ctx, (x2, y2, mask))
    return expect_close(
        ctx,
        "temporal_softmax_loss",
        "changing x and y at masked positions changes neither loss nor dx, and dx is 0 there",
        LOSS_X,
        (loss2, dx),
        (loss, np.where(hidden[:, :, None], 0.0, dx2)),
        1e-9,
        evidence=_evidence(ctx, "temporal_softmax_loss", (x2, y2, mask), (loss2, dx2), LOSS_X),
    )


def divided_by_n(ctx: Context) -> Verdict:
    """A padding row (mask all False) added to a batch of N: loss and dx scale by N / (N + 1)."""
    x, y, mask = temporal_loss(3, 4, 5)(ctx.rng)
    N = x.shape[0]
    x2 = np.concatenate([x, ctx.rng.standard_normal((1, *x.shape[1:]))])
    y2 = np.concatenate([y, np.zeros((1, y.shape[1]), dtype=np.int64)])
    mask2 = np.concatenate([mask, np.zeros((1, mask.shape[1]), dtype=bool)])
    loss, dx = _loss(ctx, (x, y, mask))
    loss2, dx2 = _loss(ctx, (x2, y2, mask2))
    return expect_close(
        ctx,
        "temporal_softmax_loss",
        f"adding a fully masked row to a batch of N = {N} multiplies loss and dx by N / (N + 1) "
        "(the sum over unmasked positions is divided by N)",
        LOSS_X,
        (loss2 * (N + 1), dx2[:N] * (N + 1)),
        (loss * N, dx * N),
        1e-9,
        evidence=_evidence(ctx, "temporal_softmax_loss", (x2, y2, mask2), (loss2, dx2), LOSS_X),
    )
