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
# # Optimizers and learning-rate schedules
#
# Each update rule is `update(w, dw, config) -> (next_w, config)`, its state written back into
# `config`:
#
# - SGD: $w \leftarrow w - \eta\, g$
# - momentum: $v \leftarrow \mu v - \eta g,\quad w \leftarrow w + v$
# - Nesterov: $v' = \mu v - \eta g,\quad w \leftarrow w - \mu v + (1 + \mu) v'$
# - Adagrad: $c \leftarrow c + g^2,\quad w \leftarrow w - \eta\, g / (\sqrt{c} + \epsilon)$
# - RMSProp: $c \leftarrow \rho c + (1 - \rho) g^2,\quad
#   w \leftarrow w - \eta\, g / (\sqrt{c} + \epsilon)$
# - Adam: $m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
#   \quad \hat m = \frac{m}{1-\beta_1^t},\quad \hat v = \frac{v}{1-\beta_2^t},\quad
#   w \leftarrow w - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}$
#
# with Adam's step counter $t$ incremented *before* use.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import optimizers  # noqa: E402  (your assignments/optimizers.py)

# %%
notebook.check("optimizers")

# %% [markdown]
# ## Trajectories in a narrow valley
# $f(x, y) = \frac{1}{2}(x^2 + 25 y^2)$ is 25 times steeper across the valley than along it.
# Plain SGD must keep $\eta < 2/25$ or it diverges across the valley, and then crawls along it;
# momentum builds up speed along the valley; Adagrad, RMSProp and Adam rescale each coordinate.

# %%
curvature = np.array([1.0, 25.0])


def f(w):
    return 0.5 * np.sum(curvature * w**2, axis=-1)


rules = {
    "sgd": {"learning_rate": 0.07},
    "sgd_momentum": {"learning_rate": 0.02, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 0.02, "momentum": 0.9},
    "adagrad": {"learning_rate": 1.0},
    "rmsprop": {"learning_rate": 0.1},
    "adam": {"learning_rate": 0.3},
}
paths = {}
for name, config in rules.items():
    with notebook.needs(name):
        w, config = np.array([-9.0, 1.5]), dict(config)
        path = [w.copy()]
        for _ in range(60):
            w, config = getattr(optimizers, name)(w.copy(), curvature * w, config)
            path.append(w.copy())
        paths[name] = np.array(path)

# %%
with notebook.needs("the update rules above"):
    notebook.ready(paths or None)
    grid_x, grid_y = np.meshgrid(np.linspace(-10, 2, 200), np.linspace(-2.5, 2.5, 200))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [2, 1]})
    ax1.contour(grid_x, grid_y, f(np.stack([grid_x, grid_y], -1)), levels=20, cmap="Greys")
    for name, path in paths.items():
        ax1.plot(path[:, 0], path[:, 1], ".-", label=name, markersize=3, linewidth=1)
        ax2.plot(f(path), label=name)
    ax1.plot(0, 0, "k*", markersize=12)
    ax1.set(title="60 steps from (-9, 1.5)", xlim=(-10, 2), ylim=(-2.5, 2.5))
    ax1.legend(fontsize=8)
    ax2.set(title="f(w)", xlabel="step", yscale="log")
    plt.show()

# %% [markdown]
# ## Adam's bias correction
# $m$ and $v$ start at zero, so early averages are too small; dividing by $1 - \beta^t$
# undoes it. Without the correction, the first steps are much smaller than $\eta$ (here
# $\beta_2 = 0.999$ makes $\sqrt{v}$ about $\sqrt{0.001}\,|g|$ at $t = 1$).

# %%
with notebook.needs("adam"):
    w, config = np.array([1.0]), {"learning_rate": 0.1}
    steps = []
    for _ in range(20):
        next_w, config = optimizers.adam(w.copy(), np.array([1.0]), config)
        steps.append(float(w[0] - next_w[0]))
        w = next_w
    m_raw = [0.1 * (1 - 0.9**t) / np.sqrt(1 - 0.999**t) for t in range(1, 21)]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot(range(1, 21), steps, "o-", label="your adam (bias-corrected)")
    ax.plot(range(1, 21), m_raw, "s--", label="without the correction")
    ax.set(xlabel="t", ylabel="step size for g = 1")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Learning-rate schedules
# Pure functions of the step number, as `torch.optim.lr_scheduler` computes them.

# %%
steps = np.arange(101)
schedules = {
    "step_decay(lr0=1, drop=0.5, every=25)": lambda s: optimizers.step_decay(s, 1.0, 0.5, 25),
    "exponential_decay(lr0=1, gamma=0.97)": lambda s: optimizers.exponential_decay(s, 1.0, 0.97),
    "cosine_annealing(lr0=1, total=100)": lambda s: optimizers.cosine_annealing(s, 1.0, 100),
    "linear_warmup(lr0=1, warmup=20)": lambda s: optimizers.linear_warmup(s, 1.0, 20),
}
with notebook.needs("the schedules"):
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, schedule in schedules.items():
        ax.plot(steps, [schedule(int(s)) for s in steps], label=name)
    ax.set(xlabel="step", ylabel="learning rate")
    ax.legend(fontsize=8)
    plt.show()
