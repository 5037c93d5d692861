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
# # Training: the loop, early stopping, search, ensembles, second-order steps
#
# - The training loop (CS231n's `Solver`): per epoch one permutation, minibatch updates, then
#   the training and validation accuracy; keep a *copy* of the best weights and stop after
#   `patience` epochs without improvement.
# - Hyperparameters are searched at random on a log scale: $\eta = 10^{u}$, $u \sim U(a, b)$.
# - An ensemble averages the models' probabilities:
#   $p(y \mid x) = \frac{1}{M} \sum_m \mathrm{softmax}(s_m(x))$.
# - Newton's step $w \leftarrow w - H^{-1} \nabla f$ jumps to the minimum of a quadratic in one
#   step; BFGS builds $H^{-1}$ from gradient differences,
#   $H' = (I - \rho s y^\top) H (I - \rho y s^\top) + \rho s s^\top$, $\rho = 1 / y^\top s$.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import training  # noqa: E402  (your assignments/training.py)

# %%
notebook.check("training")

# %% [markdown]
# ## Three update rules, early stopping
# Your `train` on the digits (a bias column appended), the linear softmax classifier of the
# module, with `patience = 3`.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
X_train = np.hstack([X_train, np.ones((len(X_train), 1))])
X_val = np.hstack([X_val, np.ones((len(X_val), 1))])
W0 = 0.001 * np.random.default_rng(0).standard_normal((65, 10))
base = {"num_epochs": 25, "batch_size": 100, "reg": 1e-3, "patience": 3, "seed": 0}
rules = {
    "sgd": {"learning_rate": 0.5},
    "sgd_momentum": {"learning_rate": 0.1, "momentum": 0.9},
    "adam": {"learning_rate": 0.02},
}
runs = {}
with notebook.needs("train"):
    for rule, optim in rules.items():
        config = dict(base, update_rule=rule, optim_config=optim)
        runs[rule] = training.train(W0, X_train, y_train, X_val, y_val, config)[1]
        h = runs[rule]
        print(
            f"{rule:13} best validation accuracy {h['best_val_acc']:.3f} at epoch "
            f"{h['best_epoch']}, ran {len(h['val_acc_history'])} epochs"
        )

# %%
with notebook.needs("the training above"):
    notebook.ready(runs or None)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    for k, (rule, h) in enumerate(runs.items()):
        ax1.plot(h["loss_history"], label=rule, alpha=0.8)
        ax2.plot(h["train_acc_history"], "--", color=f"C{k}")
        ax2.plot(h["val_acc_history"], "-", color=f"C{k}", label=f"{rule} (dashed: train)")
        ax2.plot(h["best_epoch"], h["best_val_acc"], "*", color=f"C{k}", markersize=12)
    ax1.set(xlabel="minibatch", ylabel="loss", yscale="log")
    ax1.legend()
    ax2.set(xlabel="epoch", ylabel="accuracy", title="stars: the weights train returns")
    ax2.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ## Random search over the learning rate and the regularisation
# Twenty short runs with Adam, $\eta$ and $\lambda$ drawn log-uniformly; the best region shows
# up at once, which a grid would need many more runs to find.

# %%
gen = np.random.default_rng(1)
trials = []
with notebook.needs("train"):
    for _ in range(20):
        lr, reg = 10 ** gen.uniform(-4, 0), 10 ** gen.uniform(-5, -0.5)
        config = dict(
            base, update_rule="adam", optim_config={"learning_rate": lr}, reg=reg, num_epochs=4
        )
        trials.append(
            (lr, reg, training.train(W0, X_train, y_train, X_val, y_val, config)[1]["best_val_acc"])
        )
    lr, reg, acc = np.array(trials).T
    fig, ax = plt.subplots(figsize=(6, 4))
    points = ax.scatter(lr, reg, c=acc, cmap="viridis", s=80, vmin=0.5, vmax=1)
    fig.colorbar(points, label="validation accuracy")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="regularisation")
    plt.show()

# %% [markdown]
# ## An ensemble of five
# Five classifiers trained from different seeds (different minibatch orders, different starting
# points); your `ensemble_predict` averages their probabilities.

# %%
with notebook.needs("train / ensemble_predict"):
    scores, singles = [], []
    for seed in range(5):
        start = 0.1 * np.random.default_rng(seed).standard_normal((65, 10))
        config = dict(
            base,
            update_rule="sgd",
            optim_config={"learning_rate": 0.5},
            seed=seed,
            num_epochs=3,
            reg=1e-4,
        )
        W, _ = training.train(start, X_train, y_train, X_val, y_val, config)
        scores.append(X_val @ W)
        singles.append(np.mean(np.argmax(scores[-1], axis=1) == y_val))
    probs = training.ensemble_predict(np.array(scores))
    ensemble = np.mean(np.argmax(probs, axis=1) == y_val)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(
        [f"model {m}" for m in range(5)] + ["ensemble"],
        [*singles, ensemble],
        color=["C0"] * 5 + ["C3"],
    )
    ax.set(ylim=(min(singles) - 0.03, 1.0), ylabel="validation accuracy")
    plt.show()

# %% [markdown]
# ## First order against second order, on a quadratic
# $f(w) = \frac{1}{2} w^\top A w - b^\top w$ with an ill-conditioned $A$: gradient descent
# zig-zags, your `newton_step` lands on the minimum at once, and BFGS (your `bfgs_update`, with
# exact line search) gets there in two steps without ever forming $A^{-1}$.

# %%
A, b = np.array([[10.0, 3.0], [3.0, 1.5]]), np.array([1.0, 0.5])
w_star = np.linalg.solve(A, b)
start = np.array([-1.5, 3.0])
paths = {"gradient descent": [start]}
for _ in range(30):
    w = paths["gradient descent"][-1]
    paths["gradient descent"].append(w - 0.09 * (A @ w - b))
with notebook.needs("newton_step"):
    paths["Newton"] = [start, training.newton_step(start, A @ start - b, A)]
with notebook.needs("bfgs_update"):
    w, H_inv, path = start, np.eye(2), [start]
    for _ in range(2):
        g = A @ w - b
        d = -H_inv @ g
        step = -(g @ d) / (d @ A @ d)  # exact line search on a quadratic
        w_new = w + step * d
        H_inv = training.bfgs_update(H_inv, w_new - w, (A @ w_new - b) - g)
        w = w_new
        path.append(w)
    paths["BFGS"] = path
gx, gy = np.meshgrid(np.linspace(-2, 1.5, 200), np.linspace(-1.5, 3.5, 200))
grid = np.stack([gx, gy], axis=-1)
f = 0.5 * np.einsum("...i,ij,...j->...", grid, A, grid) - grid @ b
fig, ax = plt.subplots(figsize=(6, 4))
ax.contour(gx, gy, f, levels=30, cmap="Greys")
for name, path in paths.items():
    path = np.array(path)
    ax.plot(path[:, 0], path[:, 1], "o-", markersize=3, label=f"{name} ({len(path) - 1} steps)")
ax.plot(*w_star, "k*", markersize=12)
ax.legend()
plt.show()
