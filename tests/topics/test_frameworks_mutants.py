"""The frameworks checks catch realistic bugs: each mutant of solutions/frameworks.py loses
points on the function it breaks, and where the bug is a known misconception the feedback names
it. A mutant of code that a graded function calls (LeakyReLUFunction.backward, make_loader)
is listed under the graded function; ``_mutate`` finds its text anywhere in the file, where it
must occur exactly once."""

from __future__ import annotations

import mutation
import pytest
from mutation import Mutant, assert_caught

from grader.topics import frameworks as fw
from grader.topics.frameworks import mistakes as m


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("frameworks", function, old, new, misconception)


BACKWARD = "torch.where(x > 0, dout, ctx.alpha * dout)"
MUTANTS = [
    # named mistakes
    mutant("forward_and_grads", "    net.zero_grad()\n", "", m.NO_ZERO_GRAD),
    mutant(
        "custom_leaky_relu_grad",
        BACKWARD,
        "torch.where(dout > 0, dout, ctx.alpha * dout)",
        m.WRONG_INPUT,
    ),
    mutant("custom_leaky_relu_grad", BACKWARD, "torch.where(x > 0, dout, 0 * dout)", m.NO_ALPHA),
    mutant(
        "loader_batches",
        "loader = make_loader(X, y, batch_size, seed)",
        "loader = DataLoader(ArrayDataset(X, y), batch_size=batch_size)",
        m.NO_SHUFFLE,
    ),
    mutant(
        "loader_batches",
        "        for xb, yb in loader:",
        "        for xb, yb in make_loader(X, y, batch_size, seed):",
        m.SAME_ORDER,
    ),
    mutant("sgd_train", "            optimizer.zero_grad()\n", "", m.NO_ZERO_GRAD),
    mutant("predict", "    model.eval()\n    with", "    with", m.NO_EVAL),
    mutant("predict", "with torch.no_grad():", "if True:", m.NO_NO_GRAD),
    mutant(
        "head_optimizer",
        "model.head.parameters(), lr",
        "model.parameters(), lr",
        m.FROZEN_IN_OPTIMIZER,
    ),
    mutant("train_head", "            optimizer.zero_grad()\n", "", m.NO_ZERO_GRAD),
    mutant("train_head", "    model.features.eval()\n", "", m.BN_TRAIN),
    # edges: a net or model that comes in eval mode
    mutant("sgd_train", "    net.train()\n", "", m.NO_TRAIN),
    mutant("train_head", "    model.train()\n", "", m.HEAD_NOT_TRAIN),
    # other realistic bugs
    mutant("load_weights", "torch.tensor(W1.T)", "torch.tensor(W1).reshape(W1.shape[::-1])"),
    mutant(
        "forward_and_grads",
        '"W2": net.fc2.weight.grad.numpy().T',
        '"W2": net.fc2.weight.grad.numpy()',
    ),
    mutant("forward_and_grads", "loss.backward()", "loss.backward(); net.fc1.bias.grad *= 0.5"),
    mutant(
        "custom_leaky_relu_forward",
        "torch.where(x > 0, x, alpha * x)",
        "torch.where(x > 0, x, 0.1 * x)",
    ),
    mutant("custom_leaky_relu_grad", "out.backward(torch.tensor(dout))", "out.sum().backward()"),
    mutant(
        "loader_batches",
        "shuffle=True, generator=generator)",
        "shuffle=True, generator=generator, drop_last=True)",
    ),
    mutant(
        "loader_batches",
        "generator = torch.Generator().manual_seed(seed)",
        "generator = torch.Generator().manual_seed(0)",
    ),
    mutant(
        "sgd_train",
        "optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate)",
        "optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate, momentum=0.9)",
    ),
    mutant(
        "sgd_train",
        "            losses.append(loss.item())",
        "            losses.append(F.cross_entropy(net(xb), yb).item())",
    ),
    mutant("replace_head", "p.requires_grad = False", "p.requires_grad = True"),
    mutant("replace_head", "    nn.init.zeros_(model.head.bias)\n", ""),
    mutant("head_optimizer", "lr=learning_rate, momentum=0.9)", "lr=learning_rate, momentum=0.5)"),
    mutant(
        "train_head",
        "loss = F.cross_entropy(model(xb), yb)",
        "loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)",
    ),
]
# the graded functions that call each mutated one (they may fail too)
# TwoLayerTorchNet's layer check counts only once forward_and_grads runs the net right
CALLERS = {
    "load_weights": {"forward_and_grads", "sgd_train", "TwoLayerTorchNet"},
    "forward_and_grads": {"TwoLayerTorchNet"},
    "loader_batches": {"sgd_train", "train_head"},
    "custom_leaky_relu_forward": {"custom_leaky_relu_grad"},
    "replace_head": {"head_optimizer", "train_head"},
    "head_optimizer": {"train_head"},
}


_ORIGINAL = mutation.mutate


def _mutate(source: str, mu: Mutant) -> str:
    start = max(source.find(f"def {mu.function}("), source.find(f"class {mu.function}"))
    if start >= 0 and source.find(mu.old, start) >= 0:
        return _ORIGINAL(source, mu)
    assert source.count(mu.old) == 1, f"mutant text not unique: {mu.old!r}"
    return source.replace(mu.old, mu.new)


@pytest.mark.parametrize("mu", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, monkeypatch, mu):
    monkeypatch.setattr(mutation, "mutate", _mutate)
    assert_caught(course, tmp_path, mu, CALLERS.get(mu.function, ()))


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in fw.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"
