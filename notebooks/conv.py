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
# # Convolution and pooling
#
# A convolutional layer slides $F$ filters $w_f$ of shape $(C, HH, WW)$ over the zero-padded
# input and takes a dot product at every position (cross-correlation, the filter is not
# flipped):
#
# $$\text{out}[n, f, i, j] = b_f + \sum_{c, k, l} x_{\text{pad}}[n, c,\ i s + k,\ j s + l]\;
#   w[f, c, k, l], \qquad H' = 1 + \frac{H + 2p - HH}{s}.$$
#
# Its backward pass is again a convolution: $\partial L/\partial w$ correlates the input with
# `dout`, $\partial L / \partial x$ scatters `dout` back through the filters. Max pooling keeps
# the largest value of each window and routes the gradient to that arg-max only.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_image

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import conv  # noqa: E402  (your assignments/conv.py)

# %%
notebook.check("conv")

# %% [markdown]
# ## Filters you know, on a photo
# Hand-made $3 \times 3$ filters (edges in $x$ and $y$, a blur, a Laplacian) applied with your
# `conv_forward_fast` to a grey-scale photo that ships with scikit-learn, then $2\times 2$ max
# pooling with your `max_pool_forward_naive`.

# %%
photo = load_sample_image("china.jpg").mean(axis=2)[::4, ::4] / 255.0  # (107, 160)
filters = {
    "edges x (Sobel)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "edges y (Sobel)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur": np.full((3, 3), 1 / 9),
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}
w = np.array(list(filters.values()), dtype=np.float64)[:, None]  # (4, 1, 3, 3)
with notebook.needs("conv_forward_fast / max_pool_forward_naive"):
    maps, _ = conv.conv_forward_fast(photo[None, None], w, np.zeros(4), {"stride": 1, "pad": 1})
    pooled, _ = conv.max_pool_forward_naive(
        np.abs(maps), {"pool_height": 2, "pool_width": 2, "stride": 2}
    )
    fig, axes = plt.subplots(3, 5, figsize=(13, 6.5))
    axes[0, 0].imshow(photo, cmap="gray")
    axes[0, 0].set_title("input (107 x 160)")
    for ax in (axes[1, 0], axes[2, 0]):
        ax.set_visible(False)
    for k, name in enumerate(filters):
        axes[0, k + 1].imshow(w[k, 0], cmap="coolwarm")
        axes[0, k + 1].set_title(name)
        axes[1, k + 1].imshow(maps[0, k], cmap="gray")
        axes[1, k + 1].set_title(f"feature map {maps.shape[2]}x{maps.shape[3]}")
        axes[2, k + 1].imshow(pooled[0, k], cmap="gray")
        axes[2, k + 1].set_title(f"|map| max-pooled {pooled.shape[2]}x{pooled.shape[3]}")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Filters a network learns
# A tiny convnet on the $8 \times 8$ digits: 8 filters $3\times 3$ (pad 1, stride 2) - ReLU -
# affine - softmax, trained with your `conv_forward_fast` / `conv_backward_fast` (the affine
# and softmax parts are written out here). What do the learned filters and their feature maps
# look like?

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
X_train, X_val = X_train.reshape(-1, 1, 8, 8), X_val.reshape(-1, 1, 8, 8)
param = {"stride": 2, "pad": 1}
gen = np.random.default_rng(0)
cw, cb = 0.3 * gen.standard_normal((8, 1, 3, 3)), np.zeros(8)
fw, fb = 0.1 * gen.standard_normal((8 * 4 * 4, 10)), np.zeros(10)
history = []


def forward(X):
    maps, cache = conv.conv_forward_fast(X, cw, cb, param)
    hidden = np.maximum(maps, 0)
    return maps, cache, hidden, hidden.reshape(len(X), -1) @ fw + fb


with notebook.needs("conv_forward_fast / conv_backward_fast"):
    for _ in range(8):
        for idx in np.array_split(gen.permutation(len(y_train)), len(y_train) // 64):
            maps, cache, hidden, scores = forward(X_train[idx])
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            history.append(-np.mean(np.log(p[np.arange(len(idx)), y_train[idx]])))
            dscores = p
            dscores[np.arange(len(idx)), y_train[idx]] -= 1
            dscores /= len(idx)
            dfw, dfb = hidden.reshape(len(idx), -1).T @ dscores, dscores.sum(axis=0)
            dmaps = (dscores @ fw.T).reshape(hidden.shape) * (maps > 0)
            _, dcw, dcb = conv.conv_backward_fast(dmaps, cache)
            for p_, g in ((cw, dcw), (cb, dcb), (fw, dfw), (fb, dfb)):
                p_ -= 0.5 * g
    accuracy = np.mean(np.argmax(forward(X_val)[3], axis=1) == y_val)
    print(f"validation accuracy: {accuracy:.3f} after {len(history)} steps")

# %%
with notebook.needs("the training above"):
    notebook.ready(history or None)
    maps = forward(X_val[:1])[2][0]
    fig, axes = plt.subplots(3, 8, figsize=(11, 4.5))
    for k in range(8):
        axes[0, k].imshow(cw[k, 0], cmap="coolwarm")
        axes[1, k].imshow(maps[k], cmap="gray")
    axes[2, 0].imshow(X_val[0, 0], cmap="gray")
    axes[2, 1].plot(history)
    axes[2, 1].set_title("loss")
    for k in range(2, 8):
        axes[2, k].set_visible(False)
    axes[0, 0].set_ylabel("filters")
    axes[1, 0].set_ylabel("feature maps")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    plt.show()

# %% [markdown]
# ## Loops against vectorisation
# The naive convolution runs four nested Python loops; im2col (or stride tricks) turns the
# whole layer into one matrix product. The speed checks ask for a ratio measured in the same
# run, never an absolute time; here is yours.

# %%
x = gen.standard_normal((10, 3, 16, 16))
wq, bq = gen.standard_normal((8, 3, 3, 3)), np.zeros(8)
timings = {}
for name in ("conv_forward_naive", "conv_forward_fast"):
    with notebook.needs(name):
        start = time.perf_counter()
        out, _ = getattr(conv, name)(x, wq, bq, {"stride": 1, "pad": 1})
        timings[name] = time.perf_counter() - start
with notebook.needs("both convolutions"):
    notebook.ready(timings.get("conv_forward_naive"), timings.get("conv_forward_fast"))
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.barh(list(timings), [1e3 * t for t in timings.values()])
    ax.set(xlabel="ms (10 images 3x16x16, 8 filters 3x3)", xscale="log")
    ratio = timings["conv_forward_naive"] / timings["conv_forward_fast"]
    ax.set_title(f"fast is {ratio:.0f}x faster")
    plt.show()
