"""Recurrent layers for captioning: vanilla RNN, LSTM, word embeddings, temporal affine and
temporal softmax loss (CS231n: rnn_layers.py, 2018-2024).

Conventions shared by every function in this module:

- Minibatches of sequences are laid out (N, T, ...): N sequences, T time steps. Hidden states
  have size H, inputs size D, the vocabulary size V (or M outputs for the temporal affine).
- Weights are laid out (fan_in, fan_out): a step computes x @ Wx + prev_h @ Wh + b.
  (torch.nn.RNN and torch.nn.LSTM store the transposes, weight_ih (H, D) and weight_hh (H, H).)
- The vanilla RNN uses tanh: next_h = tanh(x @ Wx + prev_h @ Wh + b).
- LSTM gates are packed in the order i, f, o, g along the 4H axis of Wx (D, 4H), Wh (H, 4H) and
  b (4H,): columns [0, H) input gate, [H, 2H) forget gate, [2H, 3H) output gate, [3H, 4H) the
  candidate g; i, f, o use the sigmoid, g uses tanh. (torch.nn.LSTM packs i, f, g, o.)
  There is no forget-gate bias offset; lstm_forward starts from c0 = 0.
- ``xxx_forward(...) -> (out, cache)`` and ``xxx_backward(dout, cache)`` returns the gradients
  with respect to the forward inputs in argument order, except lstm_step_forward, which returns
  (next_h, next_c, cache), and lstm_step_backward, which takes both upstream gradients.
- The backward passes through time receive the upstream gradient of every hidden state,
  dh (N, T, H); the gradient reaching h[:, t] is dh[:, t] plus what flows back from step t + 1.
- Word indices are integer arrays (int64); repeated indices accumulate their gradients in dW.
- temporal_softmax_loss sums the cross-entropy over the positions where mask is True and divides
  by N (the number of sequences), not by the number of unmasked positions.
- Outputs have float64 dtype for float64 inputs; no function modifies its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic sigmoid (no exp overflow for large |x|)."""
    return np.exp(-np.logaddexp(0.0, -x))


def rnn_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """One time step of a vanilla RNN with tanh: next_h = tanh(x @ Wx + prev_h @ Wh + b).

    Inputs:
    - x: float64 array of shape (N, D), the inputs of this step.
    - prev_h: float64 array of shape (N, H), the hidden state of the previous step.
    - Wx: float64 array of shape (D, H), input-to-hidden weights.
    - Wh: float64 array of shape (H, H), hidden-to-hidden weights.
    - b: float64 array of shape (H,), biases.

    Returns a tuple of:
    - next_h: float64 array of shape (N, H), the next hidden state.
    - cache: the tuple (x, prev_h, Wx, Wh, next_h).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("rnn_step_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def rnn_step_backward(
    dnext_h: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one vanilla RNN step.

    Inputs:
    - dnext_h: float64 array of shape (N, H), gradient of the loss with respect to next_h.
    - cache: the tuple (x, prev_h, Wx, Wh, next_h) from rnn_step_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, D), gradient with respect to x.
    - dprev_h: float64 array of shape (N, H), gradient with respect to prev_h.
    - dWx: float64 array of shape (D, H), gradient with respect to Wx.
    - dWh: float64 array of shape (H, H), gradient with respect to Wh.
    - db: float64 array of shape (H,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("rnn_step_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, list[Any]]:
    """A vanilla RNN over whole sequences: rnn_step_forward applied for t = 0, ..., T - 1.

    Inputs:
    - x: float64 array of shape (N, T, D), the input sequences.
    - h0: float64 array of shape (N, H), the initial hidden state.
    - Wx: float64 array of shape (D, H), input-to-hidden weights.
    - Wh: float64 array of shape (H, H), hidden-to-hidden weights.
    - b: float64 array of shape (H,), biases.

    Returns a tuple of:
    - h: float64 array of shape (N, T, H), the hidden states of every step (h0 not included).
    - cache: the list of the T step caches of rnn_step_forward, in time order.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("rnn_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def rnn_backward(
    dh: np.ndarray, cache: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a vanilla RNN over whole sequences (backpropagation through time).

    Inputs:
    - dh: float64 array of shape (N, T, H), upstream gradients of all hidden states. The
      gradient reaching h[:, t] is dh[:, t] plus the dprev_h that flows back from step t + 1.
    - cache: the list of step caches from rnn_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, T, D), gradient with respect to x.
    - dh0: float64 array of shape (N, H), gradient with respect to h0.
    - dWx: float64 array of shape (D, H), gradient with respect to Wx (summed over time).
    - dWh: float64 array of shape (H, H), gradient with respect to Wh (summed over time).
    - db: float64 array of shape (H,), gradient with respect to b (summed over time).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("rnn_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def word_embedding_forward(x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Word embeddings: each index x[n, t] selects the row W[x[n, t]].

    Inputs:
    - x: int64 array of shape (N, T), word indices in [0, V).
    - W: float64 array of shape (V, D), one embedding vector per word.

    Returns a tuple of:
    - out: float64 array of shape (N, T, D), out[n, t] = W[x[n, t]].
    - cache: the tuple (x, W).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("word_embedding_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def word_embedding_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of word embeddings (only W gets a gradient; indices are not differentiable).

    A word that occurs at several positions receives the sum of their upstream gradients
    (np.add.at; plain fancy-index assignment or += would keep only one of them).

    Inputs:
    - dout: float64 array of shape (N, T, D), upstream gradients.
    - cache: the tuple (x, W) from word_embedding_forward.

    Returns:
    - dW: float64 array of shape (V, D), gradient with respect to W (zero for unused words).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("word_embedding_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def temporal_affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """An affine layer applied at every time step (hidden states to vocabulary scores).

    Inputs:
    - x: float64 array of shape (N, T, D), the inputs.
    - w: float64 array of shape (D, M), the weights.
    - b: float64 array of shape (M,), the biases.

    Returns a tuple of:
    - out: float64 array of shape (N, T, M), out[n, t] = x[n, t] @ w + b.
    - cache: the tuple (x, w, b, out).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("temporal_affine_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def temporal_affine_backward(
    dout: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of the temporal affine layer.

    Inputs:
    - dout: float64 array of shape (N, T, M), upstream gradients.
    - cache: the tuple (x, w, b, out) from temporal_affine_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, T, D), gradient with respect to x.
    - dw: float64 array of shape (D, M), gradient with respect to w (summed over N and T).
    - db: float64 array of shape (M,), gradient with respect to b (summed over N and T).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("temporal_affine_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def temporal_softmax_loss(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy at every time step, ignoring the positions where mask is False.

    loss = (1 / N) * sum over (n, t) with mask[n, t] of -log softmax(x[n, t])[y[n, t]]:
    summed over the unmasked positions and divided by N, not by the number of unmasked
    positions. A batch with every position masked has loss 0 and gradient 0.

    Inputs:
    - x: float64 array of shape (N, T, V), scores over the vocabulary at every step.
    - y: int64 array of shape (N, T), the correct word indices in [0, V).
    - mask: bool array of shape (N, T); False marks padding that must not count.

    Returns a tuple of:
    - loss: float, the loss above.
    - dx: float64 array of shape (N, T, V), gradient of the loss with respect to x (zero at
      masked positions).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("temporal_softmax_loss: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def lstm_step_forward(
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """One time step of an LSTM.

    With a = x @ Wx + prev_h @ Wh + b split into four blocks of H columns in the order
    i, f, o, g: i = sigmoid(a_i), f = sigmoid(a_f), o = sigmoid(a_o), g = tanh(a_g);
    next_c = f * prev_c + i * g and next_h = o * tanh(next_c).

    Inputs:
    - x: float64 array of shape (N, D), the inputs of this step.
    - prev_h: float64 array of shape (N, H), the previous hidden state.
    - prev_c: float64 array of shape (N, H), the previous cell state.
    - Wx: float64 array of shape (D, 4H), input-to-hidden weights (gate blocks i, f, o, g).
    - Wh: float64 array of shape (H, 4H), hidden-to-hidden weights (gate blocks i, f, o, g).
    - b: float64 array of shape (4H,), biases (gate blocks i, f, o, g).

    Returns a tuple of:
    - next_h: float64 array of shape (N, H), the next hidden state.
    - next_c: float64 array of shape (N, H), the next cell state.
    - cache: the tuple (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("lstm_step_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def lstm_step_backward(
    dnext_h: np.ndarray, dnext_c: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one LSTM step.

    The cell state gets gradient from both paths: dnext_c directly, and dnext_h through
    next_h = o * tanh(next_c).

    Inputs:
    - dnext_h: float64 array of shape (N, H), gradient with respect to next_h.
    - dnext_c: float64 array of shape (N, H), gradient with respect to next_c.
    - cache: the tuple (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c) from lstm_step_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, D), gradient with respect to x.
    - dprev_h: float64 array of shape (N, H), gradient with respect to prev_h.
    - dprev_c: float64 array of shape (N, H), gradient with respect to prev_c.
    - dWx: float64 array of shape (D, 4H), gradient with respect to Wx.
    - dWh: float64 array of shape (H, 4H), gradient with respect to Wh.
    - db: float64 array of shape (4H,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("lstm_step_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def lstm_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, list[Any]]:
    """An LSTM over whole sequences, from h0 and a zero initial cell state c0.

    Inputs:
    - x: float64 array of shape (N, T, D), the input sequences.
    - h0: float64 array of shape (N, H), the initial hidden state.
    - Wx: float64 array of shape (D, 4H), input-to-hidden weights (gate blocks i, f, o, g).
    - Wh: float64 array of shape (H, 4H), hidden-to-hidden weights (gate blocks i, f, o, g).
    - b: float64 array of shape (4H,), biases (gate blocks i, f, o, g).

    Returns a tuple of:
    - h: float64 array of shape (N, T, H), the hidden states of every step (h0 not included).
    - cache: the list of the T step caches of lstm_step_forward, in time order.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("lstm_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def lstm_backward(
    dh: np.ndarray, cache: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of an LSTM over whole sequences (backpropagation through time).

    Both the hidden-state gradient and the cell-state gradient flow back from step t + 1 to
    step t; the final cell state has no upstream gradient of its own.

    Inputs:
    - dh: float64 array of shape (N, T, H), upstream gradients of all hidden states.
    - cache: the list of step caches from lstm_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, T, D), gradient with respect to x.
    - dh0: float64 array of shape (N, H), gradient with respect to h0.
    - dWx: float64 array of shape (D, 4H), gradient with respect to Wx (summed over time).
    - dWh: float64 array of shape (H, 4H), gradient with respect to Wh (summed over time).
    - db: float64 array of shape (4H,), gradient with respect to b (summed over time).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("lstm_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****
