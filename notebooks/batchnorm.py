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
# # Batch normalisation (and layer, spatial, group normalisation)
#
# In train mode batch normalisation standardises each feature over the batch, then lets the
# network rescale it:
#
# $$\mu = \frac{1}{N}\sum_i x_i, \quad \sigma^2 = \frac{1}{N}\sum_i (x_i - \mu)^2, \quad
#   \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = \gamma \hat x + \beta,$$
#
# with the *biased* ($1/N$) variance. It keeps running averages
# $r \leftarrow m\, r + (1 - m)\, \text{batch}$ (momentum $m = 0.9$) that test mode uses
# instead of the batch statistics. The compact backward pass:
#
# $$\frac{\partial L}{\partial x} = \frac{\gamma}{N \sqrt{\sigma^2 + \epsilon}}
#   \Big(N\, \text{dout} - \textstyle\sum_i \text{dout}_i - \hat x \sum_i \text{dout}_i
#   \hat x_i\Big).$$
#
# Layer normalisation does the same over the features of each example instead of over the batch.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import batchnorm  # noqa: E402  (your assignments/batchnorm.py)

# %%
notebook.check("batchnorm")

# %% [markdown]
# ## What it does to activations
# Six tanh layers of width 100 with weights $\mathcal{N}(0, 0.5^2)$ (too large): without
# normalisation the units saturate at $\pm 1$ from the second layer on; with your
# `batchnorm_forward` before each tanh they stay in the responsive range.

# %%
gen = np.random.default_rng(0)
x = gen.standard_normal((500, 100))
weights = [0.5 * gen.standard_normal((100, 100)) for _ in range(6)]
with notebook.needs("batchnorm_forward"):
    fig, axes = plt.subplots(2, 6, figsize=(13, 4), sharex=True, sharey="row")
    for row, use_bn in enumerate((False, True)):
        h = x
        for k, W in enumerate(weights):
            z = h @ W
            if use_bn:
                z, _ = batchnorm.batchnorm_forward(
                    z, np.ones(100), np.zeros(100), {"mode": "train"}
                )
            h = np.tanh(z)
            axes[row, k].hist(h.ravel(), bins=40, range=(-1, 1))
            axes[row, k].set_title(f"layer {k + 1}" + (" (BN)" if use_bn else ""))
    axes[0, 0].set_ylabel("without BN")
    axes[1, 0].set_ylabel("with BN")
    plt.show()

# %% [markdown]
# ## What it does to training
# Three hidden layers (affine - [BN] - ReLU) on the digits, the same badly scaled
# initialisation and learning rate, with and without your batchnorm (forward and backward).

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()


def train(use_bn, epochs=10, lr=0.05, scale=0.02, seed=0):
    gen = np.random.default_rng(seed)
    dims = [64, 100, 100, 100, 10]
    Ws = [scale * gen.standard_normal((a, b)) for a, b in zip(dims[:-1], dims[1:])]
    bs = [np.zeros(b) for b in dims[1:]]
    gammas = [np.ones(d) for d in dims[1:-1]]
    betas = [np.zeros(d) for d in dims[1:-1]]
    bn_params = [{"mode": "train"} for _ in dims[1:-1]]
    losses = []
    for _ in range(epochs):
        for idx in np.array_split(gen.permutation(len(y_train)), len(y_train) // 64):
            h, caches = X_train[idx], []
            for k in range(3):
                z = h @ Ws[k] + bs[k]
                bn_cache = None
                if use_bn:
                    z, bn_cache = batchnorm.batchnorm_forward(z, gammas[k], betas[k], bn_params[k])
                caches.append((h, z, bn_cache))
                h = np.maximum(z, 0)
            scores = h @ Ws[3] + bs[3]
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            losses.append(-np.mean(np.log(p[np.arange(len(idx)), y_train[idx]])))
            d = p
            d[np.arange(len(idx)), y_train[idx]] -= 1
            d /= len(idx)
            Ws[3], bs[3], d = Ws[3] - lr * h.T @ d, bs[3] - lr * d.sum(0), d @ Ws[3].T
            for k in (2, 1, 0):
                h_in, z, bn_cache = caches[k]
                d = d * (z > 0)
                if use_bn:
                    d, dgamma, dbeta = batchnorm.batchnorm_backward(d, bn_cache)
                    gammas[k] -= lr * dgamma
                    betas[k] -= lr * dbeta
                Ws[k], bs[k], d = Ws[k] - lr * h_in.T @ d, bs[k] - lr * d.sum(0), d @ Ws[k].T
    return np.array(losses)


curves = {}
for use_bn in (False, True):
    with notebook.needs("batchnorm_forward / batchnorm_backward"):
        curves["with BN" if use_bn else "without BN"] = train(use_bn)

# %%
with notebook.needs("the training above"):
    notebook.ready(curves.get("with BN"))
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, losses in curves.items():
        ax.plot(losses, label=name)
    ax.set(xlabel="iteration", ylabel="training loss", title="same init, same learning rate")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Train mode against test mode
# At test time a single example has no batch: the running averages stand in. Feed batches of
# shifted data and watch `running_mean` follow the batch mean (momentum 0.9).

# %%
with notebook.needs("batchnorm_forward"):
    bn_param = {"mode": "train", "momentum": 0.9}
    running = []
    for _ in range(60):
        batch = gen.standard_normal((32, 1)) + 3.0
        batchnorm.batchnorm_forward(batch, np.ones(1), np.zeros(1), bn_param)
        running.append(bn_param["running_mean"][0])
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(running, label="running_mean")
    ax.axhline(3.0, color="gray", linestyle="--", label="true mean")
    ax.set(xlabel="training step")
    ax.legend()
    plt.show()
    test_out, _ = batchnorm.batchnorm_forward(
        np.array([[3.0]]), np.ones(1), np.zeros(1), dict(bn_param, mode="test")
    )
    print(f"test mode maps the mean (3.0) to {test_out[0, 0]:.3f}")
