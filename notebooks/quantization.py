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
# # Quantization, pruning and weight sharing
#
# **Affine quantization** maps a float $x$ to an integer in $[q_{min}, q_{max}]$:
#
# $$q = \mathrm{clamp}\big(\mathrm{round}(x / s) + z,\ q_{min},\ q_{max}\big), \qquad
#   \hat x = s\,(q - z),$$
#
# with scale $s = (\max - \min)/(q_{max} - q_{min})$ over a range widened to include 0 (so that
# 0 is exact) and zero point $z$. Inside the range the error is at most $s/2$.
#
# **Magnitude pruning** zeroes the fraction of weights with the smallest $|w|$; **weight
# sharing** (Deep Compression) clusters the weights with k-means into $2^{bits}$ shared values,
# so each weight is stored as a short index into a codebook.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import quantization  # noqa: E402  (your assignments/quantization.py)

# %%
notebook.check("quantization")

# %% [markdown]
# ## The staircase and its error
# A ramp quantized with 3 bits (8 levels) by your `choose_qparams`, `quantize` and
# `dequantize`: the error stays within $\pm s/2$.

# %%
x = np.linspace(-1.0, 3.0, 801)
with notebook.needs("choose_qparams / quantize / dequantize"):
    scale, zero_point = quantization.choose_qparams(x, 0, 7)
    x_hat = quantization.dequantize(
        quantization.quantize(x, scale, zero_point, 0, 7), scale, zero_point
    )
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3))
    ax1.plot(x, x, "k:", label="x")
    ax1.plot(x, x_hat, label="dequantize(quantize(x))")
    ax1.set(title=f"3 bits: scale {scale:.3f}, zero point {zero_point}")
    ax1.legend()
    ax2.plot(x, x_hat - x)
    ax2.axhline(scale / 2, color="gray", linestyle="--")
    ax2.axhline(-scale / 2, color="gray", linestyle="--")
    ax2.set(title="error, within ±scale/2")
    plt.show()

# %% [markdown]
# ## A network to compress
# A two-layer net (64 - 128 - 10) trained on the digits (written out here, in float64), then
# compressed three ways without retraining.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
gen = np.random.default_rng(0)
W1, b1 = 0.1 * gen.standard_normal((64, 128)), np.zeros(128)
W2, b2 = 0.1 * gen.standard_normal((128, 10)), np.zeros(10)
for _ in range(30):
    for idx in np.array_split(gen.permutation(len(y_train)), len(y_train) // 64):
        h = np.maximum(X_train[idx] @ W1 + b1, 0)
        s = h @ W2 + b2
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(idx)), y_train[idx]] -= 1
        d = p / len(idx)
        dh = (d @ W2.T) * (h > 0)
        W2, b2 = W2 - 0.3 * h.T @ d, b2 - 0.3 * d.sum(0)
        W1, b1 = W1 - 0.3 * X_train[idx].T @ dh, b1 - 0.3 * dh.sum(0)


def accuracy(w1, w2):
    scores = np.maximum(X_val @ w1 + b1, 0) @ w2 + b2
    return float(np.mean(np.argmax(scores, axis=1) == y_val))


n_weights = W1.size + W2.size
base = accuracy(W1, W2)
print(f"float32 model: {32 * n_weights / 8e3:.1f} kB of weights, accuracy {base:.3f}")

# %% [markdown]
# ## The accuracy/size trade-off
# - **quantization**: each weight matrix per tensor with $b$ bits (affine, unsigned);
# - **pruning + sharing** (Deep Compression): magnitude pruning at increasing sparsity, the kept
#   weights shared with 5-bit k-means, stored as `compressed_size_bits` counts it (a 5-bit
#   codebook index and a 4-bit relative index per entry);
# - **weight sharing**: k-means with $2^{b}$ centroids per matrix.

# %%
results = {}
with notebook.needs("quantize / dequantize"):
    points = []
    for bits in (8, 6, 4, 3, 2):
        qmax = 2**bits - 1
        mats = []
        for w in (W1, W2):
            sc, zp = quantization.choose_qparams(w, 0, qmax)
            mats.append(quantization.dequantize(quantization.quantize(w, sc, zp, 0, qmax), sc, zp))
        points.append((bits * n_weights, accuracy(*mats), f"{bits} bits"))
    results["quantization"] = points
with notebook.needs("magnitude_prune / kmeans_quantize / compressed_size_bits"):
    points = []
    for sparsity in (0.5, 0.7, 0.8, 0.9, 0.95):
        mats, size = [], 0
        for w in (W1, W2):
            pruned, mask = quantization.magnitude_prune(w, sparsity)
            pruned[mask] = quantization.kmeans_quantize(w[mask], 5, 10)[0]
            mats.append(pruned)
            size += quantization.compressed_size_bits(mask, 5, 4)
        points.append((size, accuracy(*mats), f"{sparsity:.0%} pruned"))
    results["pruning + 5-bit sharing"] = points
with notebook.needs("kmeans_quantize"):
    points = []
    for bits in (5, 4, 3, 2, 1):
        mats = [quantization.kmeans_quantize(w, bits, 10)[0] for w in (W1, W2)]
        points.append((bits * n_weights + 2 * 32 * 2**bits, accuracy(*mats), f"{bits} bits"))
    results["weight sharing"] = points

# %%
with notebook.needs("the compression above"):
    notebook.ready(results or None)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.axhline(base, color="gray", linestyle=":", label="float32")
    for name, points in results.items():
        sizes, accs, labels = zip(*points)
        ax.plot(np.array(sizes) / 8e3, accs, "o-", label=name)
        for size, acc, label in points:
            ax.annotate(
                label, (size / 8e3, acc), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    ax.set(xlabel="size of the weights (kB, log)", ylabel="validation accuracy", xscale="log")
    ax.legend()
    plt.show()

# %% [markdown]
# ## What the weights look like
# The distribution of $W_1$ before compression, after 80% magnitude pruning, and after 2-bit
# weight sharing (4 shared values).

# %%
with notebook.needs("magnitude_prune / kmeans_quantize"):
    pruned, mask = quantization.magnitude_prune(W1, 0.8)
    shared, centroids, _ = quantization.kmeans_quantize(W1, 2, 10)
    fig, axes = plt.subplots(1, 3, figsize=(12, 2.8), sharex=True)
    axes[0].hist(W1.ravel(), bins=80)
    axes[0].set_title("trained W1")
    axes[1].hist(pruned[mask].ravel(), bins=80)
    axes[1].set_title("kept after 80% pruning")
    axes[2].hist(shared.ravel(), bins=80)
    axes[2].set_title("2-bit sharing: " + ", ".join(f"{c:.2f}" for c in centroids))
    plt.show()
