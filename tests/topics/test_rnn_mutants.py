"""The rnn checks catch realistic bugs: each mutant of solutions/rnn.py loses points on the
function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.pipeline import grade_topic, sandbox_for
from grader.topics.rnn import mistakes as m

LOSS_BLOCK = """    loss = -np.sum(mask_flat * log_probs[rows, y_flat]) / N
    dx_flat = np.exp(log_probs)
    dx_flat[rows, y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
"""
PER_TOKEN_BLOCK = LOSS_BLOCK.replace("/ N", "/ mask_flat.sum()").replace(
    "/= N", "/= mask_flat.sum()"
)
PER_POSITION_BLOCK = LOSS_BLOCK.replace("/ N", "/ (N * T)").replace("/= N", "/= N * T")
NO_MASK_BLOCK = LOSS_BLOCK.replace("mask_flat * log_probs", "log_probs").replace(
    "    dx_flat *= mask_flat[:, None]\n", ""
)

MUTANTS = [
    Mutant(  # edge: pre-activations in the thousands overflow a naive sigmoid
        "rnn",
        "lstm_step_forward",
        "i, f, o, g = _sigmoid(a_i), _sigmoid(a_f), _sigmoid(a_o), np.tanh(a_g)",
        "i, f, o, g = *(np.exp(v) / (1 + np.exp(v)) for v in (a_i, a_f, a_o)), np.tanh(a_g)",
        m.UNSTABLE_SIGMOID,
    ),
    # named mistakes
    Mutant(
        "rnn",
        "rnn_backward",
        "rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])",
        "rnn_step_backward(dh[:, t, :], cache[t])",
        m.NO_CARRY_H,
    ),
    Mutant(
        "rnn",
        "rnn_step_backward",
        "da = dnext_h * (1 - next_h**2)",
        "da = dnext_h * (1 - np.arctanh(next_h) ** 2)",
        m.TANH_AT_INPUT,
    ),
    Mutant(
        "rnn",
        "lstm_step_forward",
        "a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)",
        "a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)",
        m.TORCH_GATES,
    ),
    Mutant(
        "rnn",
        "lstm_step_backward",
        "dc = dnext_c + dnext_h * o * (1 - tanh_c**2)",
        "dc = dnext_h * o * (1 - tanh_c**2)",
        m.NO_CELL_PATH,
    ),
    Mutant(
        "rnn",
        "lstm_backward",
        "dh[:, t, :] + dprev_h, dprev_c, cache[t]",
        "dh[:, t, :] + dprev_h, np.zeros_like(dprev_c), cache[t]",
        m.NO_CELL_PATH,
    ),
    Mutant(
        "rnn", "word_embedding_backward", "np.add.at(dW, x, dout)", "dW[x] += dout", m.OVERWRITE
    ),
    Mutant("rnn", "word_embedding_backward", "np.add.at(dW, x, dout)", "dW[x] = dout", m.OVERWRITE),
    Mutant("rnn", "temporal_softmax_loss", LOSS_BLOCK, PER_TOKEN_BLOCK, m.PER_TOKEN),
    Mutant("rnn", "temporal_softmax_loss", LOSS_BLOCK, PER_POSITION_BLOCK, m.PER_POSITION),
    Mutant("rnn", "temporal_softmax_loss", LOSS_BLOCK, NO_MASK_BLOCK, m.MASK_IGNORED),
    # realistic bugs without a name
    Mutant(
        "rnn",
        "rnn_step_forward",
        "np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)",
        "np.tanh(x.dot(Wx) + prev_h.dot(Wh))",
    ),
    Mutant("rnn", "rnn_backward", "dh0 = dprev_h", "dh0 = np.zeros_like(dprev_h)"),
    Mutant("rnn", "rnn_backward", "dWh += dWh_t", "dWh = dWh_t"),
    Mutant("rnn", "rnn_forward", "prev_h = h0\n", "prev_h = np.zeros_like(h0)\n"),
    Mutant(
        "rnn", "temporal_affine_backward", "db = dout.sum(axis=(0, 1))", "db = dout[:, -1].sum(0)"
    ),
    Mutant("rnn", "temporal_softmax_loss", "    dx_flat /= N\n", ""),
    Mutant(
        "rnn", "lstm_step_forward", "next_c = f * prev_c + i * g\n", "next_c = prev_c + i * g\n"
    ),
    Mutant(
        "rnn",
        "lstm_step_backward",
        "do * o * (1 - o), dg * (1 - g**2)",
        "dg * (1 - g**2), do * o * (1 - o)",
    ),
    Mutant("rnn", "lstm_forward", "h0, np.zeros_like(h0)", "h0, h0"),
    Mutant("rnn", "lstm_backward", "dh0 = dprev_h", "dh0 = dh[:, 0, :]"),
]

CALLERS = {  # the reference composes steps into sequences, and backward passes use the caches
    "rnn_step_forward": {"rnn_step_backward", "rnn_forward", "rnn_backward"},
    "rnn_step_backward": {"rnn_backward"},
    "rnn_forward": {"rnn_backward"},
    "lstm_step_forward": {"lstm_step_backward", "lstm_forward", "lstm_backward"},
    "lstm_step_backward": {"lstm_backward"},
    "lstm_forward": {"lstm_backward"},
}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


def test_whole_lstm_in_torch_gate_order_is_named_everywhere(course, tmp_path):
    """A student who packs i, f, g, o consistently (forward split and backward concatenation)
    writes a self-consistent LSTM: only the gate order is wrong, and every LSTM function that
    fails says so."""
    source = (course.solutions_dir / "rnn.py").read_text()
    for old, new in [
        ("a_i, a_f, a_o, a_g = np.split", "a_i, a_f, a_g, a_o = np.split"),
        ("do * o * (1 - o), dg * (1 - g**2)", "dg * (1 - g**2), do * o * (1 - o)"),
    ]:
        assert old in source
        source = source.replace(old, new)
    path = tmp_path / "rnn.py"
    path.write_text(source)
    results, _ = grade_topic(course, "rnn", path, None, sandbox_for(course))
    lstm = ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward")
    for fn in lstm:
        failed = [r for r in results if r.function == fn and not r.passed]
        assert failed, f"nothing of {fn} failed"
        named = {r.misconception for r in failed if r.kind in ("reference", "property")}
        assert named == {m.TORCH_GATES}, f"{fn}: named {named}"
    gate_order = next(r for r in results if r.check_id.endswith("gate order i, f, o, g"))
    assert not gate_order.passed and gate_order.misconception == m.TORCH_GATES
    others = [r.check_id for r in results if r.function not in lstm and not r.passed]
    assert not others, others
