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
# # Dropout
#
# At train time (inverted) dropout keeps each unit with probability $p$ and scales the
# survivors by $1/p$, so that the expectation is unchanged:
#
# $$\text{mask}_i \sim \frac{\text{Bernoulli}(p)}{p}, \qquad \text{out} = x \odot \text{mask},
#   \qquad \mathbb{E}[\text{out}] = x;$$
#
# at test time it is the identity. Here **`p` is the probability of keeping a unit** (CS231n from
# 2018 on). The backward pass multiplies `dout` by the same mask.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import dropout  # noqa: E402  (your assignments/dropout.py)

# %%
notebook.check("dropout")

# %% [markdown]
# ## Inverted scaling keeps the mean
# The mean of the output over many units stays at the input's mean for every $p$; the
# fraction of zeros is $1 - p$.

# %%
x = np.full((200, 500), 2.0)
with notebook.needs("dropout_forward"):
    for p in (0.25, 0.5, 0.75, 1.0):
        out, _ = dropout.dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
        test, _ = dropout.dropout_forward(x, {"p": p, "mode": "test"})
        print(
            f"p = {p:4}: train mean {out.mean():.3f}, zeros {np.mean(out == 0):.3f}, "
            f"test mean {test.mean():.3f}"
        )

# %% [markdown]
# ## Why "inverted": the same activations at train and test time
# A layer after dropout sees, on average, the same input in both modes only if the survivors
# are scaled by $1/p$ at train time. Without that scaling, test time has to multiply by $p$
# instead; forgetting that factor makes every activation $1/p$ times too large at test time.

# %%
gen = np.random.default_rng(0)
h = np.maximum(gen.standard_normal((2000, 100)), 0)
with notebook.needs("dropout_forward"):
    p = 0.5
    train_out, _ = dropout.dropout_forward(h, {"p": p, "mode": "train", "seed": 1})
    test_out, _ = dropout.dropout_forward(h, {"p": p, "mode": "test"})
    unscaled_train = train_out * p  # what dropout without the 1/p would give
    fig, ax = plt.subplots(figsize=(7, 3))
    means = {
        "inverted, train": train_out.sum(axis=1).mean(),
        "inverted, test": test_out.sum(axis=1).mean(),
        "unscaled, train": unscaled_train.sum(axis=1).mean(),
        "unscaled, test (forgot x p)": test_out.sum(axis=1).mean(),
    }
    ax.bar(list(means), list(means.values()), color=["C0", "C0", "C3", "C3"])
    ax.set(ylabel="mean input to the next unit", title=f"keep probability p = {p}")
    ax.tick_params(axis="x", labelsize=8)
    plt.show()

# %% [markdown]
# ## The train/test gap
# A wide two-layer net (300 hidden units) trained on only 150 digits overfits: training accuracy
# reaches 100% while validation accuracy stays lower. Dropout on the hidden layer (your forward
# and backward) regularises it. On digits, which are clean and easy, the effect is modest
# (about a point of accuracy); it grows with the size of the network and the noise in the data.

# %%
X_all, y_all, X_val, y_val = notebook.load_digits()
X_train, y_train = X_all[:150], y_all[:150]


def accuracy(params, X, y):
    W1, b1, W2, b2, p = params
    h, _ = dropout.dropout_forward(np.maximum(X @ W1 + b1, 0), {"p": p, "mode": "test"})
    return np.mean(np.argmax(h @ W2 + b2, axis=1) == y)


def train(p, epochs=40, lr=0.3, seed=0):
    gen = np.random.default_rng(seed)
    W1, b1 = 0.1 * gen.standard_normal((64, 300)), np.zeros(300)
    W2, b2 = 0.05 * gen.standard_normal((300, 10)), np.zeros(10)
    accuracies = []
    for epoch in range(epochs):
        for k, idx in enumerate(np.array_split(gen.permutation(150), 5)):
            h = np.maximum(X_train[idx] @ W1 + b1, 0)
            param = {"p": p, "mode": "train", "seed": 1000 * epoch + k}
            h_drop, cache = dropout.dropout_forward(h, param)
            scores = h_drop @ W2 + b2
            prob = np.exp(scores - scores.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            prob[np.arange(len(idx)), y_train[idx]] -= 1
            d = prob / len(idx)
            dW2, db2 = h_drop.T @ d, d.sum(0)
            dh = dropout.dropout_backward(d @ W2.T, cache) * (h > 0)
            W1, b1 = W1 - lr * X_train[idx].T @ dh, b1 - lr * dh.sum(0)
            W2, b2 = W2 - lr * dW2, b2 - lr * db2
        params = (W1, b1, W2, b2, p)
        accuracies.append((accuracy(params, X_train, y_train), accuracy(params, X_val, y_val)))
    return np.array(accuracies)


runs = {}
for p in (1.0, 0.5):
    with notebook.needs("dropout_forward / dropout_backward"):
        runs[p] = train(p)

# %%
with notebook.needs("the training above"):
    notebook.ready(runs or None)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for (p, acc), colour in zip(runs.items(), ("C0", "C1")):
        label = "no dropout" if p == 1.0 else f"keep p = {p}"
        ax.plot(acc[:, 0], color=colour, linestyle="--", label=f"{label}: train")
        ax.plot(acc[:, 1], color=colour, label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0.5, 1.01), title="150 training digits")
    ax.legend(fontsize=8, ncol=2, loc="lower right")
    plt.show()
    for p, acc in runs.items():
        print(f"p = {p}: final gap (train - validation) {acc[-1, 0] - acc[-1, 1]:.3f}")
