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
# # Recurrent networks: vanilla RNN and LSTM
#
# A vanilla RNN carries a hidden state through time:
# $h_t = \tanh(x_t W_x + h_{t-1} W_h + b)$. Backpropagation through time sends the gradient
# back through every $W_h$ and $\tanh'$, so it tends to vanish (or explode) over long spans.
#
# The LSTM adds a cell $c_t$ updated additively, under gates computed from
# $a = x_t W_x + h_{t-1} W_h + b$ split into four blocks **in the order i, f, o, g**:
#
# $$i, f, o = \sigma(a_i), \sigma(a_f), \sigma(a_o), \quad g = \tanh(a_g), \quad
#   c_t = f \odot c_{t-1} + i \odot g, \quad h_t = o \odot \tanh(c_t).$$
#
# Words enter through an embedding (`word_embedding_forward`), scores leave through a temporal
# affine layer, and the loss is the softmax cross-entropy summed over unmasked steps and
# divided by the batch size $N$.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import rnn  # noqa: E402  (your assignments/rnn.py)

# %%
notebook.check("rnn")

# %% [markdown]
# ## A small sequence task: learn a sentence, character by character
# Both networks read windows of 20 characters and predict the next character at every step,
# trained with Adam on your layers (embedding - RNN or LSTM - temporal affine - temporal softmax
# loss, and their backward passes). Then each one writes, greedily, from a single letter.

# %%
text = "the quick brown fox jumps over the lazy dog. " * 4
chars = sorted(set(text))
V, T, N, H, D = len(chars), 20, 32, 64, 16
ids = np.array([chars.index(c) for c in text])
gen = np.random.default_rng(0)


def init(cell):
    k = 4 if cell == "lstm" else 1
    return {
        "W_embed": 0.3 * gen.standard_normal((V, D)),
        "Wx": gen.standard_normal((D, k * H)) / np.sqrt(D),
        "Wh": gen.standard_normal((H, k * H)) / np.sqrt(H),
        "b": np.zeros(k * H),
        "W_out": gen.standard_normal((H, V)) / np.sqrt(H),
        "b_out": np.zeros(V),
    }


def loss_and_grads(params, cell, x, y):
    forward = rnn.lstm_forward if cell == "lstm" else rnn.rnn_forward
    backward = rnn.lstm_backward if cell == "lstm" else rnn.rnn_backward
    emb, emb_cache = rnn.word_embedding_forward(x, params["W_embed"])
    h, h_cache = forward(emb, np.zeros((len(x), H)), params["Wx"], params["Wh"], params["b"])
    scores, out_cache = rnn.temporal_affine_forward(h, params["W_out"], params["b_out"])
    loss, dscores = rnn.temporal_softmax_loss(scores, y, np.ones(y.shape, dtype=bool))
    grads = {}
    dh, grads["W_out"], grads["b_out"] = rnn.temporal_affine_backward(dscores, out_cache)
    demb, _, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, h_cache)
    grads["W_embed"] = rnn.word_embedding_backward(demb, emb_cache)
    return loss / T, grads  # per character


def train(cell, steps=100, lr=1e-2):
    params = init(cell)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for t in range(1, steps + 1):
        starts = gen.integers(0, len(ids) - T - 1, N)
        x = np.stack([ids[s : s + T] for s in starts])
        y = np.stack([ids[s + 1 : s + T + 1] for s in starts])
        loss, grads = loss_and_grads(params, cell, x, y)
        history.append(loss)
        for k in params:  # Adam, written out
            g = np.clip(grads[k], -5, 5)
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            params[k] -= lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    return params, np.array(history)


def sample(params, cell, first="t", length=60):
    h, c, idx, out = np.zeros((1, H)), np.zeros((1, H)), chars.index(first), first
    for _ in range(length):
        x = params["W_embed"][[idx]]
        if cell == "lstm":
            h, c, _ = rnn.lstm_step_forward(x, h, c, params["Wx"], params["Wh"], params["b"])
        else:
            h, _ = rnn.rnn_step_forward(x, h, params["Wx"], params["Wh"], params["b"])
        idx = int(np.argmax(h @ params["W_out"] + params["b_out"]))
        out += chars[idx]
    return out


models = {}
for cell in ("rnn", "lstm"):
    with notebook.needs(f"the {cell} layers"):
        models[cell] = train(cell)
        print(f"{cell:4}: {sample(models[cell][0], cell)!r}")

# %%
with notebook.needs("the training above"):
    notebook.ready(models or None)
    fig, ax = plt.subplots(figsize=(7, 3))
    for cell, (_, history) in models.items():
        ax.plot(history, label=cell)
    ax.axhline(np.log(V), color="gray", linestyle=":", label=f"uniform guess (log {V})")
    ax.set(xlabel="Adam step", ylabel="loss per character", yscale="log")
    ax.legend()
    plt.show()

# %% [markdown]
# The loss does not reach zero: after "the " the next letter is "q" or "l", and only a memory of
# what came 20 or more characters earlier can tell which. Try longer windows (`T`) and a
# sentence with more such ambiguities to see the LSTM pull ahead of the vanilla RNN.

# %% [markdown]
# ## Inside the LSTM
# The hidden state of the first 24 units while the trained LSTM reads the sentence: some units
# switch at spaces, others count through words.

# %%
with notebook.needs("lstm_forward"):
    notebook.ready(models.get("lstm"))
    params = models["lstm"][0]
    sentence = text[:45]
    x = params["W_embed"][[chars.index(c) for c in sentence]][None]
    h, _ = rnn.lstm_forward(x, np.zeros((1, H)), params["Wx"], params["Wh"], params["b"])
    fig, ax = plt.subplots(figsize=(11, 3.5))
    ax.imshow(h[0, :, :24].T, cmap="coolwarm", aspect="auto", vmin=-1, vmax=1)
    ax.set_xticks(range(len(sentence)), list(sentence))
    ax.set(ylabel="hidden unit")
    plt.show()
