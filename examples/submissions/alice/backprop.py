"""alice: layers, backward passes and a two-layer net, written from scratch."""

import numpy as np


def affine_forward(x, w, b):
    flat = np.reshape(x, (x.shape[0], w.shape[0]))
    return np.einsum("nd,dm->nm", flat, w) + b[None, :], (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = np.reshape(x, (x.shape[0], w.shape[0]))
    dx = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
    return dx, np.einsum("nd,nm->dm", flat, dout), dout.sum(axis=0)


def relu_forward(x):
    return np.where(x > 0, x, 0.0), x


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)


def sigmoid_forward(x):
    z = np.exp(-np.abs(x))  # never overflows
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1.0 - cache * cache)


def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, x, x * alpha), (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha)


def elu_forward(x, alpha=1.0):
    negative = alpha * (np.exp(np.minimum(x, 0.0)) - 1.0)
    return np.where(x > 0, x, negative), (x, alpha)


def elu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def maxout_forward(x, w, b):
    z = np.einsum("nd,dmk->nmk", x, w) + b[None]
    pick = z.argmax(axis=2)
    n, m = pick.shape
    out = z[np.arange(n)[:, None], np.arange(m)[None, :], pick]
    return out, (x, w, b, pick)


def maxout_backward(dout, cache):
    x, w, b, pick = cache
    dz = np.zeros(x.shape[:1] + w.shape[1:])
    n, m = pick.shape
    dz[np.arange(n)[:, None], np.arange(m)[None, :], pick] = dout
    return np.einsum("nmk,dmk->nd", dz, w), np.einsum("nd,nmk->dmk", x, dz), dz.sum(axis=0)


def affine_relu_forward(x, w, b):
    a, fc = affine_forward(x, w, b)
    out, rc = relu_forward(a)
    return out, (fc, rc)


def affine_relu_backward(dout, cache):
    fc, rc = cache
    return affine_backward(relu_backward(dout, rc), fc)


class TwoLayerNet:
    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0):
        self.reg = reg
        self.params = {
            "W1": np.random.normal(0.0, weight_scale, (input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": np.random.normal(0.0, weight_scale, (hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        p = self.params
        h, c1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, c2 = affine_forward(h, p["W2"], p["b2"])
        if y is None:
            return scores
        n = scores.shape[0]
        top = scores.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
        data_loss = np.mean(lse[:, 0] - scores[np.arange(n), y])
        dscores = np.exp(scores - lse)
        dscores[np.arange(n), y] -= 1.0
        dscores /= n
        penalty = 0.5 * self.reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2"))
        dh, dW2, db2 = affine_backward(dscores, c2)
        _, dW1, db1 = affine_relu_backward(dh, c1)
        grads = {"W1": dW1 + self.reg * p["W1"], "b1": db1,
                 "W2": dW2 + self.reg * p["W2"], "b2": db2}
        return float(data_loss + penalty), grads


def xavier_init(fan_in, fan_out, rng):
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return rng.uniform(low=-limit, high=limit, size=(fan_in, fan_out))


def kaiming_init(fan_in, fan_out, rng, a=0.0):
    std = (2.0 / (1.0 + a * a)) ** 0.5 / fan_in**0.5
    return std * rng.standard_normal((fan_in, fan_out))
