"""CS231n-only check set: FullyConnectedNet, against a reference built from the kit's layers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import torch
import torch.nn.functional as F

from grader.batch import grade_batch
from grader.layouts import cs231n_fcnet
from grader.pipeline import reference_module
from grader.reports.gradescope import schema
from tests.layouts import cs231n_trees as trees

ROOT = Path(__file__).resolve().parents[2]


def _results(out: Path, student: str) -> dict:
    data = json.loads((out / student / "results.json").read_text())
    jsonschema.validate(data, schema())
    return data


def _fc(data: dict) -> list[dict]:
    return [t for t in data["tests"] if "/FullyConnectedNet:" in t["name"]]


def test_reference_agrees_with_torch() -> None:
    """The judge's FullyConnectedNet reference (kit layers + softmax) against torch autograd."""
    ref = reference_module(ROOT / "solutions" / "backprop.py")
    rng = np.random.default_rng(3)
    params, X = cs231n_fcnet._draw(rng, 6, [5, 4, 3], 4)
    y = rng.integers(0, 4, 6)
    reg = 0.3
    loss, grads = cs231n_fcnet.reference_loss(ref, params, X, y, reg)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(X)
    h = torch.relu(h @ tp["W1"] + tp["b1"])
    h = torch.relu(h @ tp["W2"] + tp["b2"])
    scores = h @ tp["W3"] + tp["b3"]
    tloss = F.cross_entropy(scores, torch.tensor(y))
    tloss = tloss + 0.5 * reg * sum((tp[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    assert set(grads) == set(params)
    for key, value in grads.items():
        np.testing.assert_allclose(value, tp[key].grad.numpy(), rtol=1e-10, atol=1e-12)
    (scores_ref,) = cs231n_fcnet.reference_loss(ref, params, X, None, reg)
    np.testing.assert_allclose(scores_ref, scores.detach().numpy(), rtol=1e-12)


def test_fully_connected_net_of_each_constructor_graded(course, tmp_path: Path) -> None:
    """2017 (dropout=0, use_batchnorm), 2019 (dropout=1, normalization), 2022 split (TwoLayerNet
    in assignment1's fc_net.py, FullyConnectedNet in assignment2's): all checks pass."""
    batch = tmp_path / "batch"
    for name, year, split in (("uma", 2017, False), ("val", 2019, True), ("wes", 2022, True)):
        trees.write(batch / name, year, split)
    out = tmp_path / "out"
    grade_batch(course, [batch], out, ("backprop",), layout="cs231n")
    for name in ("uma", "val", "wes"):
        data = _results(out, name)
        tests = _fc(data)
        assert len(tests) == len(cs231n_fcnet.CHECKS), name
        assert {t["extra_data"]["outcome"] for t in tests} == {"passed"}, name
        assert sum(t["score"] for t in tests) == sum(p for _, p in cs231n_fcnet.CHECKS)
        two = [t for t in data["tests"] if "/TwoLayerNet:" in t["name"]]
        assert two and {t["extra_data"]["outcome"] for t in two} == {"passed"}, name


def test_buggy_untouched_and_missing_fully_connected_nets(course, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    for name in ("xia", "yan", "zoe"):
        trees.write(batch / name, 2021, split=False)
    fc = "cs231n/classifiers/fc_net.py"
    buggy = batch / "xia" / fc  # the L2 gradient doubled
    text = buggy.read_text()
    line = '            grads["W%d" % i] += self.reg * W\n'
    assert line in text
    buggy.write_text(text.replace(line, line.replace("self.reg", "2 * self.reg")))
    untouched = batch / "yan" / fc  # every region of the class back to the starter `pass`
    lines, out_lines, inside = untouched.read_text().splitlines(keepends=True), [], False
    start = next(i for i, t in enumerate(lines) if t.startswith("class FullyConnectedNet"))
    for i, t in enumerate(lines):
        if i > start and "END OF YOUR CODE" in t:
            out_lines += ["        pass\n", t]
            inside = False
        elif not inside:
            out_lines.append(t)
            inside = i > start and "START OF YOUR CODE" in t
    untouched.write_text("".join(out_lines))
    missing = batch / "zoe" / fc  # a tree without it
    text = missing.read_text()
    missing.write_text(text[: text.index("class FullyConnectedNet")])
    out = tmp_path / "out"
    grade_batch(course, [batch], out, ("backprop",), layout="cs231n")
    xia, yan, zoe = (_results(out, n) for n in ("xia", "yan", "zoe"))
    outcomes = {t["name"].split(": ", 1)[1]: t["extra_data"]["outcome"] for t in _fc(xia)}
    assert outcomes["loss and grads, hidden_dims [6, 5, 4], reg 0.7"] == "wrong"
    assert outcomes["numeric gradient, hidden_dims [4, 3], reg 0.3"] == "wrong"
    assert outcomes["loss and grads, hidden_dims [5], reg 0"] == "passed"  # reg 0: no L2
    assert {t["extra_data"]["outcome"] for t in _fc(yan)} == {"not_implemented"}
    assert "untouched" in _fc(yan)[0]["output"]
    assert {t["extra_data"]["outcome"] for t in _fc(zoe)} == {"not_submitted"}
    assert "cs231n/classifiers/fc_net.py" in _fc(zoe)[0]["output"]
    for data in (yan, zoe):
        assert sum(t["score"] for t in _fc(data)) == 0
        assert sum(t["max_score"] for t in _fc(data)) == sum(p for _, p in cs231n_fcnet.CHECKS)
