"""Known mistakes of the ``rnn`` topic, each as a judge-side model of the mistaken code.

A variant gets the trusted reference module and the inputs of the failing check: the call's
arguments for a forward function or the loss, ``(dout, *forward_args)`` for a backward pass,
``(dnext_h, dnext_c, *forward_args)`` for lstm_step_backward. It returns what the mistaken code
would return, in the function's output layout (``None`` where a cache stays in the worker).
The variants rebuild the reference's caches themselves (they are judge-side and may rely on the
reference's cache layout: a list of per-step caches for the sequence functions).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from grader.checks.base import Misconception

NO_CARRY_H = "hidden-state gradient not carried back through time"
TORCH_GATES = "LSTM gates in torch's order (i, f, g, o)"
NO_CELL_PATH = "cell-state gradient dropped (dnext_c / dprev_c not carried)"
OVERWRITE = "repeated word indices overwrite instead of accumulating"
PER_TOKEN = "loss divided by the number of unmasked tokens instead of N"
PER_POSITION = "loss divided by N * T instead of N"
MASK_IGNORED = "mask ignored"
TANH_AT_INPUT = "tanh derivative evaluated at the pre-activation"


# -- the vanilla RNN ---------------------------------------------------------------------------
def _rnn_no_carry(
    ref: ModuleType,
    dh: np.ndarray,
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    """Each step gets only dh[:, t]; the dprev_h of step t + 1 is dropped."""
    _, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    N, T, H = dh.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = ref.rnn_step_backward(dh[:, t], cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def _rnn_tanh_at_input(
    ref: ModuleType,
    dnext_h: np.ndarray,
    x: np.ndarray,
    prev_h: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    a = x @ Wx + prev_h @ Wh + b
    da = dnext_h * (1 - a**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# -- LSTM in torch's gate order ----------------------------------------------------------------
def _swap_og(w: np.ndarray) -> np.ndarray:
    """Swap the o and g blocks of the last axis (an involution: i, f, o, g <-> i, f, g, o)."""
    H = w.shape[-1] // 4
    return np.concatenate([w[..., : 2 * H], w[..., 3 * H :], w[..., 2 * H : 3 * H]], axis=-1)


def _torch_order_step_forward(
    ref: ModuleType,
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    next_h, next_c, _ = ref.lstm_step_forward(
        x, prev_h, prev_c, _swap_og(Wx), _swap_og(Wh), _swap_og(b)
    )
    return next_h, next_c, None


def _torch_order_forward(
    ref: ModuleType, x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple:
    return ref.lstm_forward(x, h0, _swap_og(Wx), _swap_og(Wh), _swap_og(b))[0], None


def _torch_order_step_backward(
    ref: ModuleType,
    dnext_h: np.ndarray,
    dnext_c: np.ndarray,
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    _, _, cache = ref.lstm_step_forward(x, prev_h, prev_c, _swap_og(Wx), _swap_og(Wh), _swap_og(b))
    dx, dprev_h, dprev_c, dWx, dWh, db = ref.lstm_step_backward(dnext_h, dnext_c, cache)
    return dx, dprev_h, dprev_c, _swap_og(dWx), _swap_og(dWh), _swap_og(db)


def _torch_order_backward(
    ref: ModuleType,
    dh: np.ndarray,
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    _, cache = ref.lstm_forward(x, h0, _swap_og(Wx), _swap_og(Wh), _swap_og(b))
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dh, cache)
    return dx, dh0, _swap_og(dWx), _swap_og(dWh), _swap_og(db)


# -- LSTM without the cell-state path ----------------------------------------------------------
def _step_ignores_dnext_c(
    ref: ModuleType,
    dnext_h: np.ndarray,
    dnext_c: np.ndarray,
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    _, _, cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return ref.lstm_step_backward(dnext_h, np.zeros_like(dnext_c), cache)


def _lstm_no_cell_carry(
    ref: ModuleType,
    dh: np.ndarray,
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    """Every step gets dnext_c = 0: only the hidden-state gradient flows back in time."""
    _, cache = ref.lstm_forward(x, h0, Wx, Wh, b)
    T = dh.shape[1]
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        dx[:, t], dprev_h, _, dWx_t, dWh_t, db_t = ref.lstm_step_backward(
            dh[:, t] + dprev_h, np.zeros_like(h0), cache[t]
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


# -- embeddings and the temporal loss ----------------------------------------------------------
def _embedding_overwrite(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, W: np.ndarray
) -> np.ndarray:
    """dW[x] = dout (or dW[x] += dout): with repeated indices, only one write survives."""
    dW = np.zeros_like(W)
    dW[x] = dout
    return dW


def _loss_scaled(
    ref: ModuleType, x: np.ndarray, y: np.ndarray, mask: np.ndarray, divisor: float
) -> tuple:
    loss, dx = ref.temporal_softmax_loss(x, y, mask)
    k = x.shape[0] / divisor
    return loss * k, dx * k


def _per_token(ref: ModuleType, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple:
    return _loss_scaled(ref, x, y, mask, np.sum(mask))


def _per_position(ref: ModuleType, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple:
    return _loss_scaled(ref, x, y, mask, x.shape[0] * x.shape[1])


def _mask_ignored(ref: ModuleType, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple:
    return ref.temporal_softmax_loss(x, y, np.ones_like(mask))


MISCONCEPTIONS = (
    Misconception(
        "rnn_backward",
        NO_CARRY_H,
        "step t receives dh[:, t] + the dprev_h returned by step t + 1; "
        "start with dprev_h = 0 at the last step and return the final dprev_h as dh0",
        _rnn_no_carry,
    ),
    Misconception(
        "rnn_step_backward",
        TANH_AT_INPUT,
        "d tanh(a)/da = 1 - tanh(a)**2 = 1 - next_h**2, not 1 - a**2",
        _rnn_tanh_at_input,
    ),
)
_TORCH_HINT = (
    "this course packs the gates i, f, o, g (columns [2H, 3H) are the output gate, "
    "[3H, 4H) the tanh candidate g); torch.nn.LSTM packs i, f, g, o"
)
UNSTABLE_SIGMOID = "sigmoid as exp(a) / (1 + exp(a)) (NaN for large pre-activations)"


def _unstable_sigmoid_step_forward(
    ref: ModuleType,
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple:
    a = x @ Wx + prev_h @ Wh + b
    a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
    with np.errstate(all="ignore"):
        i, f, o = (np.exp(v) / (1 + np.exp(v)) for v in (a_i, a_f, a_o))
        next_c = f * prev_c + i * np.tanh(a_g)
        return o * np.tanh(next_c), next_c, None


MISCONCEPTIONS += (
    Misconception(
        "lstm_step_forward",
        UNSTABLE_SIGMOID,
        "exp(a) overflows to inf for a above about 709 and inf / inf is NaN: use "
        "1 / (1 + np.exp(-a)), or np.exp(-np.logaddexp(0, -a)), which never overflows",
        _unstable_sigmoid_step_forward,
    ),
    Misconception("lstm_step_forward", TORCH_GATES, _TORCH_HINT, _torch_order_step_forward),
    Misconception("lstm_forward", TORCH_GATES, _TORCH_HINT, _torch_order_forward),
    Misconception("lstm_step_backward", TORCH_GATES, _TORCH_HINT, _torch_order_step_backward),
    Misconception("lstm_backward", TORCH_GATES, _TORCH_HINT, _torch_order_backward),
    Misconception(
        "lstm_step_backward",
        NO_CELL_PATH,
        "the cell state gets dnext_c directly plus dnext_h * o * (1 - tanh(next_c)**2)",
        _step_ignores_dnext_c,
    ),
    Misconception(
        "lstm_backward",
        NO_CELL_PATH,
        "carry dprev_c back in time like dprev_h: step t receives the dprev_c of step t + 1 "
        "as its dnext_c (0 at the last step)",
        _lstm_no_cell_carry,
    ),
    Misconception(
        "word_embedding_backward",
        OVERWRITE,
        "fancy-index assignment keeps one write per repeated index; "
        "use np.add.at(dW, x, dout) so that every occurrence adds its gradient",
        _embedding_overwrite,
    ),
    Misconception(
        "temporal_softmax_loss",
        PER_TOKEN,
        "sum the loss over the unmasked positions and divide by N (the batch size), "
        "not by mask.sum()",
        _per_token,
    ),
    Misconception(
        "temporal_softmax_loss",
        PER_POSITION,
        "sum over the time steps and divide by N only, not by N * T",
        _per_position,
    ),
    Misconception(
        "temporal_softmax_loss",
        MASK_IGNORED,
        "positions where mask is False are padding: multiply both the loss terms and dx by mask",
        _mask_ignored,
    ),
)
