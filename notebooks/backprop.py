# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Backpropagation: layers, activations and a two-layer net
#
# Every layer is a pair: `forward(x, ...) -> (out, cache)` and `backward(dout, cache)`, which
# turns the upstream gradient $\partial L / \partial \text{out}$ into the gradients of its
# inputs by the chain rule. For the affine layer $\text{out} = xW + b$:
#
# $$\frac{\partial L}{\partial x} = \text{dout}\, W^\top, \qquad
#   \frac{\partial L}{\partial W} = x^\top \text{dout}, \qquad
#   \frac{\partial L}{\partial b} = \textstyle\sum_i \text{dout}_i .$$
#
# The activations differ in where they let gradient through: ReLU $\max(0, x)$ passes it where
# $x > 0$, $\sigma(x)$ scales it by $\sigma(x)(1 - \sigma(x)) \le 1/4$, $\tanh$ by
# $1 - \tanh^2 x$.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import backprop  # noqa: E402  (your assignments/backprop.py)

# %%
notebook.check("backprop")

# %% [markdown]
# ## The activations and their gradients
# The right-hand panel is what each `*_backward` returns for `dout = 1`: where it is near zero,
# the layers below learn nothing (saturation).

# %%
x = np.linspace(-4, 4, 401)
pairs = {
    "relu": (backprop.relu_forward, backprop.relu_backward),
    "sigmoid": (backprop.sigmoid_forward, backprop.sigmoid_backward),
    "tanh": (backprop.tanh_forward, backprop.tanh_backward),
    "leaky relu": (backprop.leaky_relu_forward, backprop.leaky_relu_backward),
    "elu": (backprop.elu_forward, backprop.elu_backward),
}
curves = {}
for name, (forward, backward) in pairs.items():
    with notebook.needs(f"{name} forward/backward"):
        out, cache = forward(x)
        curves[name] = (out, backward(np.ones_like(x), cache))
with notebook.needs("the activations"):
    notebook.ready(curves or None)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, (out, grad) in curves.items():
        ax1.plot(x, out, label=name)
        ax2.plot(x, grad, label=name)
    ax1.set(title="forward", xlabel="x", ylim=(-1.5, 4))
    ax2.set(title="backward (dout = 1)", xlabel="x")
    ax1.legend()
    plt.show()

# %% [markdown]
# ## Gradient check
# Compare your `affine_backward` with centred differences
# $\frac{f(x + h) - f(x - h)}{2h}$ on a tiny layer, by the relative error
# $\max \frac{|a - b|}{\max(10^{-8}, |a| + |b|)}$ (below $10^{-7}$ is right).

# %%
rng = np.random.default_rng(0)
x0, w0, b0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
dout0 = rng.normal(size=(3, 5))


def numeric_grad(f, a, h=1e-6):
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        plus = np.sum(f() * dout0)
        a[i] = old - h
        minus = np.sum(f() * dout0)
        a[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


with notebook.needs("affine_forward / affine_backward"):
    _, cache0 = backprop.affine_forward(x0, w0, b0)
    dx, dw, db = backprop.affine_backward(dout0, cache0)
    for name, mine, arr in [("dx", dx, x0), ("dw", dw, w0), ("db", db, b0)]:
        num = numeric_grad(lambda: backprop.affine_forward(x0, w0, b0)[0], arr)
        err = np.max(np.abs(mine - num) / np.maximum(1e-8, np.abs(mine) + np.abs(num)))
        print(f"{name}: relative error {err:.1e}")

# %% [markdown]
# ## Train your `TwoLayerNet` on digits
# affine - ReLU - affine - softmax on the $8 \times 8$ digits, with plain minibatch SGD on your
# `loss(X, y)`; the L2 term here is $\frac{1}{2}\lambda \sum W^2$ (CS231n's `fc_net`
# convention).

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
net, history, accuracies = None, [], []
with notebook.needs("TwoLayerNet"):
    net = backprop.TwoLayerNet(input_dim=64, hidden_dim=64, num_classes=10, reg=1e-4)
    gen = np.random.default_rng(0)
    net.params["W1"] = 0.1 * gen.standard_normal((64, 64))  # seeded, not np.random
    net.params["W2"] = 0.1 * gen.standard_normal((64, 10))
    for _ in range(20):
        for idx in np.array_split(gen.permutation(len(y_train)), len(y_train) // 50):
            loss, grads = net.loss(X_train[idx], y_train[idx])
            for k in net.params:
                net.params[k] -= 0.3 * grads[k]
            history.append(loss)
        accuracies.append(np.mean(np.argmax(net.loss(X_val), axis=1) == y_val))
    print(f"validation accuracy after {len(accuracies)} epochs: {accuracies[-1]:.3f}")

# %%
with notebook.needs("the training above"):
    notebook.ready(accuracies or None)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
    ax1.plot(history)
    ax1.set(title="training loss", xlabel="iteration", yscale="log")
    ax2.plot(np.arange(1, len(accuracies) + 1), accuracies, "o-")
    ax2.set(title="validation accuracy", xlabel="epoch")
    plt.show()

# %% [markdown]
# ## First-layer weights
# Each hidden unit looks at the image through one column of $W_1$: a stroke detector.

# %%
with notebook.needs("the training above"):
    notebook.ready(accuracies or None)
    fig, axes = plt.subplots(4, 8, figsize=(8, 4))
    for k, ax in enumerate(axes.flat):
        ax.imshow(net.params["W1"][:, k].reshape(8, 8), cmap="coolwarm")
        ax.axis("off")
    fig.suptitle("32 of the 64 columns of W1")
    plt.show()

# %% [markdown]
# ## Initialisation: keeping activations alive through depth
# Ten tanh (or ReLU) layers of width 256, initialised with your `xavier_init` or `kaiming_init`
# against a fixed $\mathcal{N}(0, 0.01^2)$: with too small weights the activations (and so the
# gradients) shrink to zero layer after layer.

# %%
with notebook.needs("xavier_init / kaiming_init"):
    gen = np.random.default_rng(1)
    h0 = gen.standard_normal((500, 256))
    inits = {
        "N(0, 0.01^2), tanh": (lambda: 0.01 * gen.standard_normal((256, 256)), np.tanh),
        "xavier, tanh": (lambda: backprop.xavier_init(256, 256, gen), np.tanh),
        "kaiming, relu": (
            lambda: backprop.kaiming_init(256, 256, gen),
            lambda z: np.maximum(z, 0),
        ),
    }
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, (init, act) in inits.items():
        h, stds = h0, []
        for _ in range(10):
            h = act(h @ init())
            stds.append(h.std())
        ax.plot(range(1, 11), stds, "o-", label=name)
    ax.set(xlabel="layer", ylabel="std of activations", yscale="log")
    ax.legend()
    plt.show()
