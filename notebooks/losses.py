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
# # Linear classifiers: the SVM and softmax losses
#
# A linear classifier scores each class with $s = xW$ ($x$ a row of $D$ features, $W$ of shape
# $(D, C)$). Training makes the score of the correct class $y_i$ stand out, as measured by a loss:
#
# - **multiclass SVM** (hinge, margin $\Delta = 1$):
#   $L_i = \sum_{j \ne y_i} \max(0,\ s_j - s_{y_i} + 1)$
# - **softmax** (cross-entropy): $L_i = -\log \dfrac{e^{s_{y_i}}}{\sum_j e^{s_j}}$
#
# and the full loss is the mean over the batch plus an L2 penalty:
# $L = \frac{1}{N} \sum_i L_i + \lambda \sum W^2$, whose gradient term is $2 \lambda W$.
#
# Write the functions in `assignments/losses.py` (naive loops first, then vectorised); this
# notebook imports that file and reloads it whenever you save it.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import losses  # noqa: E402  (your assignments/losses.py)

print("your module:", losses.__file__)

# %% [markdown]
# ## Check your functions
# The same public checks as `grader check losses`, run in a sandboxed worker: each row says
# what was compared, how far off you are, and the name of the mistake when it is a known one.

# %%
notebook.check("losses")

# %% [markdown]
# ## Numerical stability
# $e^{1000}$ overflows. Softmax is invariant to adding a constant to every score, so subtract
# the row maximum before exponentiating: $\mathrm{softmax}(s) = \mathrm{softmax}(s - \max_j s_j)$.

# %%
rng = np.random.default_rng(0)
X0, y0 = np.hstack([rng.normal(size=(4, 5)), np.ones((4, 1))]), np.array([0, 2, 1, 1])
W0 = np.vstack([rng.normal(0, 0.1, (5, 3)), np.zeros((1, 3))])
W_shifted = W0.copy()
W_shifted[-1] = 1000.0  # the constant feature adds 1000 to every score
with notebook.needs("softmax_loss_vectorized"):
    for name, W in (("scores", W0), ("scores + 1000", W_shifted)):
        loss, dW = losses.softmax_loss_vectorized(W, X0, y0, 0.0)
        print(f"{name:14}: loss {loss:.6f}, |dW| {np.abs(dW).sum():.6f}")
    print("the same loss and gradient both times, if your softmax subtracts the row maximum")

# %% [markdown]
# ## Train on real digits
# scikit-learn ships 1797 handwritten digits of $8 \times 8$ pixels. We append a constant 1 to
# every image (the bias trick: the last row of $W$ is the bias) and run minibatch SGD on your
# vectorised losses.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
X_train = np.hstack([X_train, np.ones((len(X_train), 1))])
X_val = np.hstack([X_val, np.ones((len(X_val), 1))])
print("train", X_train.shape, "val", X_val.shape)


def train_linear(loss_fn, lr=0.5, reg=1e-3, epochs=15, batch=64, seed=0):
    """Minibatch SGD with ``loss_fn(W, X, y, reg) -> (loss, dW)``; returns W and the losses."""
    gen = np.random.default_rng(seed)
    W = 0.001 * gen.standard_normal((X_train.shape[1], 10))
    history = []
    for _ in range(epochs):
        for idx in np.array_split(gen.permutation(len(y_train)), len(y_train) // batch):
            loss, dW = loss_fn(W, X_train[idx], y_train[idx], reg)
            W -= lr * dW
            history.append(loss)
    return W, np.array(history)


def accuracy(W, X, y):
    return float(np.mean(np.argmax(X @ W, axis=1) == y))


trained = {}
for name, fn in [("SVM", losses.svm_loss_vectorized), ("softmax", losses.softmax_loss_vectorized)]:
    with notebook.needs(fn.__name__):
        trained[name] = train_linear(fn)
        print(f"{name}: validation accuracy {accuracy(trained[name][0], X_val, y_val):.3f}")

# %%
with notebook.needs("the training above"):
    notebook.ready(trained or None)
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, (_, history) in trained.items():
        ax.plot(history, label=name, alpha=0.8)
    ax.set(xlabel="iteration", ylabel="training loss", title="Loss curves", yscale="log")
    ax.legend()
    plt.show()

# %% [markdown]
# ## What the classifier learned
# Each column of $W$ is a template: the image that scores highest for its class.

# %%
with notebook.needs("the training above"):
    notebook.ready(trained.get("softmax"))
    W_soft = trained["softmax"][0][:-1]  # drop the bias row
    fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
    for c, ax in enumerate(axes):
        ax.imshow(W_soft[:, c].reshape(8, 8), cmap="coolwarm")
        ax.set_title(str(c))
        ax.axis("off")
    fig.suptitle("softmax weights per class")
    plt.show()

# %% [markdown]
# ## Naive loops against vectorised code
# Both must give the same loss and gradient; the vectorised one should be much faster.

# %%
with notebook.needs("svm_loss_naive / svm_loss_vectorized"):
    W1 = 0.001 * rng.standard_normal((65, 10))
    start = time.perf_counter()
    loss_n, dW_n = losses.svm_loss_naive(W1, X_train[:300], y_train[:300], 1e-3)
    naive_s = time.perf_counter() - start
    start = time.perf_counter()
    loss_v, dW_v = losses.svm_loss_vectorized(W1, X_train[:300], y_train[:300], 1e-3)
    vector_s = time.perf_counter() - start
    print(
        f"loss difference {abs(loss_n - loss_v):.2e}, gradient difference "
        f"{np.abs(dW_n - dW_v).max():.2e}"
    )
    print(f"naive {naive_s * 1e3:.1f} ms, vectorised {vector_s * 1e3:.2f} ms")
