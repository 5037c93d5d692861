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
# # PyTorch: the same models, with autograd
#
# In PyTorch a model is an `nn.Module`, autograd records the forward pass and `loss.backward()`
# fills every parameter's `.grad`. One training step is always, in this order:
#
# ```python
# optimizer.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); optimizer.step()
# ```
#
# (forget `zero_grad` and the gradients of all earlier steps add up). Evaluation is
# `model.eval()` under `torch.no_grad()`. `nn.Linear` stores its weight as $(out, in)$ and
# computes $x W^\top + b$, the transpose of CS231n's $(D, H)$ layout. Everything here is float64
# on the CPU.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import frameworks  # noqa: E402  (your assignments/frameworks.py)

torch.set_num_threads(1)  # small models: threads cost more than they give

# %%
notebook.check("frameworks")

# %% [markdown]
# ## Your `TwoLayerTorchNet` on the digits
# Trained with your `sgd_train` (your seeded `make_loader` shuffles), evaluated with your
# `predict`.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
losses = None
with notebook.needs("TwoLayerTorchNet / sgd_train / predict"):
    torch.manual_seed(0)
    net = frameworks.TwoLayerTorchNet(64, 64, 10)
    losses = frameworks.sgd_train(
        net, X_train, y_train, learning_rate=0.3, batch_size=50, num_epochs=10, seed=0
    )
    scores, tracked = frameworks.predict(net, X_val)
    print(
        f"validation accuracy {np.mean(scores.argmax(axis=1) == y_val):.3f}; "
        f"scores tracked by autograd: {tracked}"
    )
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(losses)
    ax.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="sgd_train")
    plt.show()

# %% [markdown]
# ## Autograd against your hand-written backward pass
# `forward_and_grads` gives the loss and the gradients in the CS231n layout. On the same
# weights (your `load_weights`) they must equal what `TwoLayerNet.loss` computes by hand with
# `reg = 0`; here they are compared with a centred difference on a few weights instead.

# %%
gen = np.random.default_rng(0)
weights = [0.1 * gen.standard_normal(s) for s in ((64, 20), (20,), (20, 10), (10,))]
with notebook.needs("load_weights / forward_and_grads"):
    small = frameworks.TwoLayerTorchNet(64, 20, 10)
    frameworks.load_weights(small, *weights)
    loss, grads = frameworks.forward_and_grads(small, X_train[:30], y_train[:30])
    W1 = weights[0]
    errors = []
    for i, j in [(10, 3), (20, 7), (35, 11), (50, 19)]:
        old = W1[i, j]
        W1[i, j] = old + 1e-6
        frameworks.load_weights(small, *weights)
        plus = frameworks.forward_and_grads(small, X_train[:30], y_train[:30])[0]
        W1[i, j] = old - 1e-6
        frameworks.load_weights(small, *weights)
        minus = frameworks.forward_and_grads(small, X_train[:30], y_train[:30])[0]
        W1[i, j] = old
        numeric = (plus - minus) / 2e-6
        errors.append(
            abs(numeric - grads["W1"][i, j]) / max(1e-8, abs(numeric) + abs(grads["W1"][i, j]))
        )
    print(f"loss {loss:.4f}; relative errors of dW1 entries: {np.array(errors).round(10)}")

# %% [markdown]
# ## A custom autograd function
# Your `LeakyReLUFunction` (a `torch.autograd.Function` with its own `forward` and `backward`)
# against torch's built-in `F.leaky_relu` and its autograd.

# %%
x = np.linspace(-3, 3, 301)
with notebook.needs("LeakyReLUFunction"):
    out = frameworks.custom_leaky_relu_forward(x, 0.2)
    grad = frameworks.custom_leaky_relu_grad(x, np.ones_like(x), 0.2)
    tx = torch.tensor(x, requires_grad=True)
    F.leaky_relu(tx, 0.2).sum().backward()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(x, out, label="your forward")
    ax.plot(x, grad, label="your backward (dout = 1)")
    ax.plot(x, tx.grad.numpy(), "k:", label="torch's autograd")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Transfer learning: a frozen extractor, a new head
# `make_pretrained_cnn` stands in for a pretrained network; your `replace_head` freezes its
# features and gives it a zero-initialised head, `head_optimizer` holds only the head's
# parameters, `train_head` trains it. Afterwards only the head may have changed: the bar chart
# shows how far each tensor of the state dict moved (the batch-norm statistics included).

# %%
X_blobs, y_blobs = frameworks.make_blobs(50, seed=0)
with notebook.needs("replace_head / head_optimizer / train_head"):
    model = frameworks.make_pretrained_cnn(seed=0)
    model = frameworks.replace_head(model, 4)
    before = frameworks.inspect_model(model)["state"]
    optimizer = frameworks.head_optimizer(model, 0.05)
    head_losses = frameworks.train_head(
        model, optimizer, X_blobs, y_blobs, batch_size=20, num_epochs=5, seed=0
    )
    after = frameworks.inspect_model(model, optimizer)["state"]
    moved = {k: float(np.abs(after[k] - before[k]).max()) for k in before}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.2))
    ax1.plot(head_losses)
    ax1.set(xlabel="step", ylabel="loss", title="training the head")
    ax2.barh(list(moved), list(moved.values()))
    ax2.set(xlabel="largest change", title="what training changed")
    ax2.tick_params(axis="y", labelsize=7)
    plt.tight_layout()
    plt.show()
