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
# # Parallel training, simulated in one process
#
# **Data parallelism.** $K$ workers each take a chunk of the batch (`np.array_split`: sizes
# $n_k$ differing by at most one) and compute the mean gradient $g_k$ of their chunk. The
# full-batch gradient is the *weighted* mean
#
# $$\nabla W = \sum_k \frac{n_k}{N}\, g_k ,$$
#
# which the workers compute together with an **all-reduce**. The ring all-reduce sends
# $2 (K-1)/K$ of the buffer per worker, almost independent of $K$.
#
# **Model parallelism** splits the layers over devices: the activation crosses forward, its
# gradient crosses back. **A prefetching loader** overlaps loading with compute, so a step takes
# $\max(\text{load}, \text{compute})$ instead of their sum.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import parallel  # noqa: E402  (your assignments/parallel.py)

# %%
notebook.check("parallel")

# %% [markdown]
# ## Weighted, not plain, mean of the workers' gradients
# A batch of 10 split over $K$ workers: the plain mean of the $g_k$ is off whenever the chunks
# are uneven ($K$ not dividing 10); the $n_k/N$-weighted mean is exact.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
W = 0.01 * np.random.default_rng(0).standard_normal((64, 10))
X10, y10 = X_train[:10], y_train[:10]
full = parallel.softmax_loss(W, X10, y10)[1]
with notebook.needs("worker_gradients / data_parallel_gradient"):
    Ks = range(1, 11)
    plain, weighted = [], []
    for K in Ks:
        grads, counts = parallel.worker_gradients(W, X10, y10, K)
        plain.append(np.abs(np.mean(grads, axis=0) - full).max())
        weighted.append(np.abs(parallel.data_parallel_gradient(W, X10, y10, K) - full).max())
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.semilogy(Ks, np.maximum(plain, 1e-18), "o-", label="plain mean of g_k")
    ax.semilogy(Ks, np.maximum(weighted, 1e-18), "s-", label="your data_parallel_gradient")
    ax.set(xlabel="K workers (batch of 10)", ylabel="max error vs full batch")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Ring all-reduce: what each worker sends
# Your `ring_allreduce` must leave every worker with the sum; `allreduce_bytes` counts what each
# one sends, against a parameter server that receives every worker's whole buffer.

# %%
gen = np.random.default_rng(1)
with notebook.needs("ring_allreduce / allreduce_bytes"):
    K = 4
    chunks = [[gen.standard_normal(3) for _ in range(K)] for _ in range(K)]
    result = parallel.ring_allreduce(chunks)
    expected = [sum(chunks[j][c] for j in range(K)) for c in range(K)]
    error = max(np.abs(result[k][c] - expected[c]).max() for k in range(K) for c in range(K))
    print(f"every worker holds the sum: max error {error:.1e}")
    Ks = np.arange(1, 33)
    size = 100.0  # MB of gradients
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(Ks, [parallel.allreduce_bytes(size, int(k)) for k in Ks], label="ring, per worker")
    ax.plot(Ks, (Ks - 1) * size, label="parameter server, received by the server")
    ax.set(xlabel="K workers", ylabel="MB sent (100 MB buffer)", yscale="log")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Same training, one worker or four
# Minibatch SGD on the digits with your `data_parallel_gradient`: the loss curves for $K = 1$ and
# $K = 4$ coincide, up to rounding.

# %%
with notebook.needs("data_parallel_gradient"):
    curves = {}
    for K in (1, 4):
        W, losses, order = np.zeros((64, 10)), [], np.random.default_rng(2)
        for _ in range(5):
            for idx in np.array_split(order.permutation(len(y_train)), 20):
                losses.append(parallel.softmax_loss(W, X_train[idx], y_train[idx])[0])
                W = W - 1.0 * parallel.data_parallel_gradient(W, X_train[idx], y_train[idx], K)
        curves[K] = np.array(losses)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(curves[1], linewidth=4, alpha=0.4, label="K = 1")
    ax.plot(curves[4], "--", label="K = 4")
    ax.set(xlabel="step", ylabel="loss")
    ax.set_title(f"largest difference {np.abs(curves[1] - curves[4]).max():.1e}")
    ax.legend()
    plt.show()

# %% [markdown]
# ## The data-loading bottleneck
# Loading takes 8 ms a batch on average (with spikes), computing 9 ms. Without prefetching each
# step costs both; a queue of a few batches hides the loading behind the compute and absorbs the
# spikes (`loader_step_times`).

# %%
steps = 60
load = 8.0 * (1 + 0.5 * np.random.default_rng(3).standard_normal(steps).clip(-1, 3))
compute = np.full(steps, 9.0)
with notebook.needs("loader_step_times"):
    fig, ax = plt.subplots(figsize=(7, 3))
    for prefetch in (0, 1, 2, 8):
        times = parallel.loader_step_times(load, compute, steps, prefetch)
        ax.plot(np.cumsum(times), label=f"prefetch = {prefetch}: {times.sum():.0f} ms")
    ax.plot(np.cumsum(compute), "k:", label="compute only")
    ax.set(xlabel="step", ylabel="elapsed ms")
    ax.legend(fontsize=8)
    plt.show()
