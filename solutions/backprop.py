"""Layers, their backward passes, a two-layer net and weight initialisers (CS231n: layers.py,
layer_utils.py, classifiers/fc_net.py).

Conventions shared by every function in this module:

- ``xxx_forward(...) -> (out, cache)``; ``xxx_backward(dout, cache)`` returns the gradients
  with respect to the forward inputs, in argument order (a single array for one input).
- Caches keep CS231n's layouts where CS231n fixes them: affine ``(x, w, b)``, relu ``x``.
- Weights are laid out (fan_in, fan_out), i.e. (D, M): out = x @ w + b. (torch.nn.Linear and
  torch.nn.init use (out, in).)
- At a kink the gradient takes the value of the right-hand branch only for x > 0: relu gives 0
  at x == 0, leaky relu and elu give alpha at x == 0 (the same values as PyTorch).
- Maxout ties: the first maximal piece (lowest k, as np.argmax) receives the whole gradient.
- TwoLayerNet regularises with ``0.5 * reg * sum(W * W)`` (CS231n's fc_net convention), unlike
  the linear classifiers in losses.py, which use ``reg * sum(W * W)``.
- Initialisers take an explicit ``numpy.random.Generator``; nothing seeds the global generator.
- Outputs have float64 dtype for float64 inputs; no function modifies its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Forward pass of an affine (fully connected) layer.

    Each example x[i] of shape (d_1, ..., d_k) is reshaped to a vector of dimension
    D = d_1 * ... * d_k before the product.

    Inputs:
    - x: float64 array of shape (N, d_1, ..., d_k), the inputs.
    - w: float64 array of shape (D, M), the weights.
    - b: float64 array of shape (M,), the biases.

    Returns a tuple of:
    - out: float64 array of shape (N, M), x.reshape(N, D) @ w + b.
    - cache: the tuple (x, w, b).
    """
    # ***** START OF YOUR CODE *****
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache
    # ***** END OF YOUR CODE *****


def affine_backward(
    dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of an affine layer.

    Inputs:
    - dout: float64 array of shape (N, M), upstream derivative.
    - cache: the tuple (x, w, b) from affine_forward, shapes (N, d_1, ..., d_k), (D, M), (M,).

    Returns a tuple of:
    - dx: float64 array of shape (N, d_1, ..., d_k), gradient with respect to x.
    - dw: float64 array of shape (D, M), gradient with respect to w.
    - db: float64 array of shape (M,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db
    # ***** END OF YOUR CODE *****


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass of a rectified linear unit, max(0, x) elementwise.

    Inputs:
    - x: float64 array of any shape.

    Returns a tuple of:
    - out: float64 array of the same shape as x.
    - cache: x.
    """
    # ***** START OF YOUR CODE *****
    out = np.maximum(0, x)
    cache = x
    return out, cache
    # ***** END OF YOUR CODE *****


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of a ReLU (the gradient at x == 0 is taken as 0).

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: x from relu_forward, same shape as dout.

    Returns:
    - dx: float64 array of the same shape as dout, gradient with respect to x.
    """
    # ***** START OF YOUR CODE *****
    x = cache
    dx = dout * (x > 0)
    return dx
    # ***** END OF YOUR CODE *****


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass of the logistic sigmoid, 1 / (1 + exp(-x)) elementwise.

    Computed as exp(-logaddexp(0, -x)) so that no exp overflows for large |x|.

    Inputs:
    - x: float64 array of any shape.

    Returns a tuple of:
    - out: float64 array of the same shape as x, values in [0, 1].
    - cache: out (the backward pass needs only the output).
    """
    # ***** START OF YOUR CODE *****
    out = np.exp(-np.logaddexp(0, -x))
    cache = out
    return out, cache
    # ***** END OF YOUR CODE *****


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of the logistic sigmoid.

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: out from sigmoid_forward, same shape as dout.

    Returns:
    - dx: float64 array of the same shape as dout, dout * out * (1 - out).
    """
    # ***** START OF YOUR CODE *****
    out = cache
    dx = dout * out * (1 - out)
    return dx
    # ***** END OF YOUR CODE *****


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass of tanh elementwise.

    Inputs:
    - x: float64 array of any shape.

    Returns a tuple of:
    - out: float64 array of the same shape as x, values in [-1, 1].
    - cache: out (the backward pass needs only the output).
    """
    # ***** START OF YOUR CODE *****
    out = np.tanh(x)
    cache = out
    return out, cache
    # ***** END OF YOUR CODE *****


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of tanh.

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: out from tanh_forward, same shape as dout.

    Returns:
    - dx: float64 array of the same shape as dout, dout * (1 - out ** 2).
    """
    # ***** START OF YOUR CODE *****
    out = cache
    dx = dout * (1 - out**2)
    return dx
    # ***** END OF YOUR CODE *****


def leaky_relu_forward(x: np.ndarray, alpha: float = 0.01) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of a leaky ReLU: x where x > 0, alpha * x elsewhere.

    Inputs:
    - x: float64 array of any shape.
    - alpha: float, slope for x <= 0.

    Returns a tuple of:
    - out: float64 array of the same shape as x.
    - cache: the tuple (x, alpha).
    """
    # ***** START OF YOUR CODE *****
    out = np.where(x > 0, x, alpha * x)
    cache = (x, alpha)
    return out, cache
    # ***** END OF YOUR CODE *****


def leaky_relu_backward(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    """Backward pass of a leaky ReLU (the gradient at x == 0 is taken as alpha).

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: the tuple (x, alpha) from leaky_relu_forward; x has the shape of dout.

    Returns:
    - dx: float64 array of the same shape as dout, gradient with respect to x.
    """
    # ***** START OF YOUR CODE *****
    x, alpha = cache
    dx = dout * np.where(x > 0, 1.0, alpha)
    return dx
    # ***** END OF YOUR CODE *****


def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of an exponential linear unit: x where x > 0, alpha * (exp(x) - 1) elsewhere.

    Inputs:
    - x: float64 array of any shape.
    - alpha: float, saturation value for large negative x is -alpha.

    Returns a tuple of:
    - out: float64 array of the same shape as x.
    - cache: the tuple (x, alpha).
    """
    # ***** START OF YOUR CODE *****
    # expm1 on min(x, 0): accurate near 0 and never overflows for large positive x.
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    cache = (x, alpha)
    return out, cache
    # ***** END OF YOUR CODE *****


def elu_backward(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    """Backward pass of an ELU (the gradient at x == 0 is taken as alpha).

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: the tuple (x, alpha) from elu_forward; x has the shape of dout.

    Returns:
    - dx: float64 array of the same shape as dout, gradient with respect to x.
    """
    # ***** START OF YOUR CODE *****
    x, alpha = cache
    dx = dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))
    return dx
    # ***** END OF YOUR CODE *****


def maxout_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Forward pass of a maxout layer with M units of K affine pieces each.

    z[n, m, k] = sum_d x[n, d] * w[d, m, k] + b[m, k];  out[n, m] = max_k z[n, m, k].
    Tie policy: when several pieces share the maximum, the first one (lowest k, as np.argmax)
    is the selected piece and receives the whole gradient in maxout_backward.

    Inputs:
    - x: float64 array of shape (N, D), the inputs.
    - w: float64 array of shape (D, M, K), the weights of the pieces.
    - b: float64 array of shape (M, K), the biases of the pieces.

    Returns a tuple of:
    - out: float64 array of shape (N, M).
    - cache: the tuple (x, w, b, argmax) with argmax an int array of shape (N, M), the index of
      the selected piece.
    """
    # ***** START OF YOUR CODE *****
    num_inputs, dim = x.shape
    _, num_units, num_pieces = w.shape
    z = x.dot(w.reshape(dim, num_units * num_pieces)).reshape(num_inputs, num_units, num_pieces)
    z = z + b
    argmax = np.argmax(z, axis=2)
    out = np.take_along_axis(z, argmax[:, :, np.newaxis], axis=2)[:, :, 0]
    cache = (x, w, b, argmax)
    return out, cache
    # ***** END OF YOUR CODE *****


def maxout_backward(
    dout: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a maxout layer; the gradient flows only through the selected piece.

    Inputs:
    - dout: float64 array of shape (N, M), upstream derivative.
    - cache: the tuple (x, w, b, argmax) from maxout_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, D), gradient with respect to x.
    - dw: float64 array of shape (D, M, K), gradient with respect to w.
    - db: float64 array of shape (M, K), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    x, w, b, argmax = cache
    num_inputs, dim = x.shape
    _, num_units, num_pieces = w.shape
    dz = np.zeros((num_inputs, num_units, num_pieces), dtype=np.result_type(dout, w))
    np.put_along_axis(dz, argmax[:, :, np.newaxis], dout[:, :, np.newaxis], axis=2)
    dz_flat = dz.reshape(num_inputs, num_units * num_pieces)
    dx = dz_flat.dot(w.reshape(dim, num_units * num_pieces).T)
    dw = x.T.dot(dz_flat).reshape(w.shape)
    db = np.sum(dz, axis=0)
    return dx, dw, db
    # ***** END OF YOUR CODE *****


def affine_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Convenience layer: an affine transform followed by a ReLU.

    Inputs:
    - x: float64 array of shape (N, d_1, ..., d_k), the inputs.
    - w: float64 array of shape (D, M), D = d_1 * ... * d_k.
    - b: float64 array of shape (M,).

    Returns a tuple of:
    - out: float64 array of shape (N, M), relu(affine(x)).
    - cache: the tuple (fc_cache, relu_cache) of the two layers' caches.
    """
    # ***** START OF YOUR CODE *****
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    return out, cache
    # ***** END OF YOUR CODE *****


def affine_relu_backward(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of the affine-relu convenience layer.

    Inputs:
    - dout: float64 array of shape (N, M), upstream derivative.
    - cache: the tuple (fc_cache, relu_cache) from affine_relu_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, d_1, ..., d_k), gradient with respect to x.
    - dw: float64 array of shape (D, M), gradient with respect to w.
    - db: float64 array of shape (M,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db
    # ***** END OF YOUR CODE *****


class TwoLayerNet:
    """A two-layer fully connected network: affine - relu - affine - softmax.

    Parameters live in the dictionary self.params:
    - 'W1': float64 array of shape (D, H), first-layer weights.
    - 'b1': float64 array of shape (H,), first-layer biases.
    - 'W2': float64 array of shape (H, C), second-layer weights.
    - 'b2': float64 array of shape (C,), second-layer biases.

    Regularisation is L2 with a factor 0.5: 0.5 * reg * (sum(W1 * W1) + sum(W2 * W2)), whose
    gradient is reg * W. This is CS231n's fc_net convention and DIFFERS from the linear
    classifiers in losses.py (reg * sum(W * W), gradient 2 * reg * W). Biases are not
    regularised.
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
    ) -> None:
        """Initialise the network.

        Weights are drawn from a normal distribution with mean 0 and standard deviation
        weight_scale (weight_scale * np.random.randn, the global generator, which this code
        never seeds); biases are zeros.

        Inputs:
        - input_dim: int, D, the size of one flattened input.
        - hidden_dim: int, H, the size of the hidden layer.
        - num_classes: int, C, the number of classes.
        - weight_scale: float, standard deviation of the initial weights.
        - reg: float, L2 regularisation strength (stored as self.reg).
        """
        # ***** START OF YOUR CODE *****
        self.reg = reg
        self.params: dict[str, np.ndarray] = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }
        # ***** END OF YOUR CODE *****

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Compute the class scores, or the loss and gradients, for a minibatch.

        Inputs:
        - X: float64 array of shape (N, d_1, ..., d_k), d_1 * ... * d_k = D; each example is
          flattened.
        - y: int array of shape (N,) with labels 0 <= y[i] < C, or None.

        Returns:
        If y is None (test time):
        - scores: float64 array of shape (N, C), scores[i, c] is the score of class c for X[i].
        If y is given (training time), a tuple of:
        - loss: Python float, mean softmax loss over N plus
          0.5 * reg * (sum(W1 * W1) + sum(W2 * W2)).
        - grads: dict with the keys of self.params, grads[k] the gradient of loss with respect
          to self.params[k], of the same shape.

        Subtract each row's maximum score before exponentiating (numerical stability: the
        scores can be in the hundreds).
        """
        # ***** START OF YOUR CODE *****
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)
        scores, scores_cache = affine_forward(hidden, W2, b2)
        if y is None:
            return scores

        num_train = scores.shape[0]
        rows = np.arange(num_train)
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        data_loss = -np.sum(log_probs[rows, y]) / num_train
        dscores = np.exp(log_probs)
        dscores[rows, y] -= 1.0
        dscores /= num_train

        reg_loss = 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        loss = float(data_loss + reg_loss)

        grads: dict[str, np.ndarray] = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] = grads["W1"] + self.reg * W1
        grads["W2"] = grads["W2"] + self.reg * W2
        return loss, grads
        # ***** END OF YOUR CODE *****


def xavier_init(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Xavier/Glorot uniform initialisation (torch.nn.init.xavier_uniform_ with gain 1).

    Draws from U(-bound, bound) with bound = sqrt(6 / (fan_in + fan_out)), as
    rng.uniform(-bound, bound, size=(fan_in, fan_out)).

    Inputs:
    - fan_in: int, number of inputs of the layer (D).
    - fan_out: int, number of outputs of the layer (M).
    - rng: numpy.random.Generator, the only source of randomness.

    Returns:
    - w: float64 array of shape (fan_in, fan_out) (CS231n layout; torch uses (out, in)).
    """
    # ***** START OF YOUR CODE *****
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out))
    # ***** END OF YOUR CODE *****


def kaiming_init(fan_in: int, fan_out: int, rng: np.random.Generator, a: float = 0.0) -> np.ndarray:
    """Kaiming/He normal initialisation, fan-in mode (torch.nn.init.kaiming_normal_).

    std = gain / sqrt(fan_in) with gain = sqrt(2 / (1 + a ** 2)), the leaky-relu gain for
    negative slope a (a = 0: plain ReLU, gain sqrt(2)). Drawn as
    rng.normal(0.0, std, size=(fan_in, fan_out)).

    Inputs:
    - fan_in: int, number of inputs of the layer (D).
    - fan_out: int, number of outputs of the layer (M).
    - rng: numpy.random.Generator, the only source of randomness.
    - a: float, negative slope of the leaky ReLU that follows the layer.

    Returns:
    - w: float64 array of shape (fan_in, fan_out) (CS231n layout; torch uses (out, in)).
    """
    # ***** START OF YOUR CODE *****
    gain = np.sqrt(2.0 / (1.0 + a**2))
    std = gain / np.sqrt(fan_in)
    return rng.normal(0.0, std, size=(fan_in, fan_out))
    # ***** END OF YOUR CODE *****
