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
# # Automatic differentiation: a reverse-mode engine
#
# Each `Value` remembers the values it was computed from and its local derivative. The backward
# pass visits the graph in reverse topological order and applies the chain rule at every node,
# *adding* what reaches each parent (a value used twice gets both contributions):
#
# $$\bar v = \frac{\partial L}{\partial v} = \sum_{u\ \text{child of}\ v} \bar u\,
#   \frac{\partial u}{\partial v}.$$
#
# Broadcasting in the forward pass means summing in the backward pass: a bias of shape $(1, H)$
# added to $(N, H)$ gets $\bar b = \sum_n \bar u_n$ (`unbroadcast`).

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
from autograd import Value  # noqa: E402  (your assignments/autograd.py)

# %%
notebook.check("autograd")

# %% [markdown]
# ## Your engine against PyTorch's
# The same expression, with a shared subexpression and broadcasting, differentiated by your
# `Value` and by `torch.autograd`.

# %%
rng = np.random.default_rng(0)
a0, b0, c0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(1, 2))
graph = None
with notebook.needs("Value"):
    a, b, c = Value(a0), Value(b0), Value(c0)
    h = (a @ b + c).tanh()
    graph = ((h * h).sum() + (h.exp() + 1.0).log().sum()) / 2.0
    graph.backward()
    ta, tb, tc = (torch.tensor(v, requires_grad=True) for v in (a0, b0, c0))
    th = torch.tanh(ta @ tb + tc)
    (((th * th).sum() + torch.log(torch.exp(th) + 1.0).sum()) / 2.0).backward()
    for name, mine, ref in (("a", a, ta), ("b", b, tb), ("c", c, tc)):
        print(f"d/d{name}: max |yours - torch| = {np.abs(mine.grad - ref.grad.numpy()).max():.1e}")

# %% [markdown]
# ## The graph it built
# Nodes in topological order, one column per depth, arrows from each value to what was computed
# from it.

# %%
with notebook.needs("Value.topological_order"):
    notebook.ready(graph)
    order = graph.topological_order()
    depth = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._parents), default=-1)
    columns = {}
    position = {}
    for node in order:
        d = depth[id(node)]
        position[id(node)] = (d, columns.get(d, 0))
        columns[d] = columns.get(d, 0) + 1
    fig, ax = plt.subplots(figsize=(11, 3.5))
    for node in order:
        x, y = position[id(node)]
        for parent in node._parents:
            px, py = position[id(parent)]
            ax.annotate("", (x, y), (px, py), arrowprops={"arrowstyle": "->", "color": "gray"})
        label = node._op or f"leaf {node.data.shape}"
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "lightyellow" if node._op else "lightblue"},
        )
    ax.set(xlim=(-0.5, max(columns) + 0.5), ylim=(-0.7, max(columns.values()) - 0.3))
    ax.axis("off")
    plt.show()

# %% [markdown]
# ## Train a small network with it
# A 2 - 16 - 16 - 2 tanh network on scikit-learn's two moons, its loss (softmax cross-entropy,
# written with your `exp`, `log`, `sum`) and its gradients all from your engine.

# %%
X, y = make_moons(200, noise=0.15, random_state=0)
onehot = np.eye(2)[y]
gen = np.random.default_rng(0)
history, params = [], None


def model(params, X):
    h = Value(X)
    for k, (W, b) in enumerate(params):
        h = h @ W + b
        if k < len(params) - 1:
            h = h.tanh()
    return h


with notebook.needs("Value"):
    sizes = [2, 16, 16, 2]
    params = [
        (Value(gen.standard_normal((m, n)) / np.sqrt(m)), Value(np.zeros((1, n))))
        for m, n in zip(sizes[:-1], sizes[1:])
    ]
    for _ in range(300):
        scores = model(params, X)
        shift = Value(scores.data.max(axis=1, keepdims=True))  # a constant: stability only
        logsumexp = (scores - shift).exp().sum(axis=1, keepdims=True).log() + shift
        loss = (logsumexp - (scores * onehot).sum(axis=1, keepdims=True)).sum() / len(X)
        loss.zero_grad()
        loss.backward()
        history.append(float(loss.data))
        for W, b in params:
            W.data = W.data - 0.5 * W.grad
            b.data = b.data - 0.5 * b.grad
    accuracy = np.mean(np.argmax(model(params, X).data, axis=1) == y)
    print(f"training accuracy {accuracy:.3f}, final loss {history[-1]:.3f}")

# %%
with notebook.needs("the training above"):
    notebook.ready(params, history or None)
    gx, gy = np.meshgrid(np.linspace(-1.5, 2.5, 150), np.linspace(-1, 1.5, 150))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    scores = model(params, grid).data
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    ax1.contourf(
        gx,
        gy,
        (scores[:, 1] - scores[:, 0]).reshape(gx.shape),
        levels=20,
        cmap="coolwarm",
        alpha=0.6,
    )
    ax1.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=15)
    ax1.set_title("decision function")
    ax2.plot(history)
    ax2.set(title="loss", xlabel="step", yscale="log")
    plt.show()
