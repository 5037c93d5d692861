"""CS231n layout: conventions that changed over the years are detected from the tree's text and
adapted (or not, where the assignment pins them), end to end on fixture trees."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from grader.batch import grade_batch
from grader.layouts import cs231n
from grader.layouts.cs231n_conventions import FULL, HALF
from grader.reports.gradescope import schema
from tests.layouts import cs231n_trees as trees


def _results(out: Path, student: str) -> dict:
    data = json.loads((out / student / "results.json").read_text())
    jsonschema.validate(data, schema())
    return data


def _tests(data: dict, function: str) -> list[dict]:
    return [t for t in data["tests"] if f"/{function}:" in t["name"]]


def _outcomes(data: dict, function: str) -> set[str]:
    return {t["extra_data"]["outcome"] for t in _tests(data, function)}


def _warnings(data: dict, function: str) -> str:
    return " ".join(w for t in _tests(data, function) for w in t["extra_data"].get("warnings", []))


def _edit(path: Path, function: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` inside the definition of ``function`` in ``path``."""
    text = path.read_text()
    start = text.find(f"def {function}(")
    start = text.index(f"class {function}") if start < 0 else start
    end = text.find("\ndef ", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    assert old in body, (function, old)
    path.write_text(text[:start] + body.replace(old, new) + text[end:])


def test_l2_convention_detected_accepted_where_open_and_pinned_where_fixed(
    course, tmp_path: Path
) -> None:
    tree = trees.write(tmp_path / "ivy", 2020, split=False)
    svm = tree / "cs231n" / "classifiers" / "linear_svm.py"
    softmax = tree / "cs231n" / "classifiers" / "softmax.py"
    # softmax (open): 0.5 * reg written out, and 0.5 * reg hidden in a helper
    _edit(
        softmax, "softmax_loss_vectorized", "+ reg * np.sum(W * W)", "+ 0.5 * reg * np.sum(W * W)"
    )
    _edit(softmax, "softmax_loss_vectorized", "+ 2 * reg * W", "+ reg * W")
    _edit(softmax, "softmax_loss_naive", "loss += reg * np.sum(W * W)", "loss += _l2(W, reg)")
    _edit(softmax, "softmax_loss_naive", "dW += 2 * reg * W", "dW += reg * W")
    softmax.write_text(
        softmax.read_text() + "\n\ndef _l2(W, reg):\n    return 0.5 * reg * (W**2).sum()\n"
    )
    # SVM (pinned by the starter svm_loss_naive): 0.5 * reg is graded as the assignment's
    _edit(svm, "svm_loss_vectorized", "+ reg * np.sum(W * W)", "+ 0.5 * reg * np.sum(W * W)")
    _edit(svm, "svm_loss_vectorized", "+ 2 * reg * W", "+ reg * W")
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("losses",), layout="cs231n")
    data = _results(out, "ivy")
    conv = data["extra_data"]["conventions"]

    naive_svm = conv["svm_loss_naive_regularisation"]
    assert naive_svm["value"] == FULL and naive_svm["graded_as"] == FULL
    assert "linear_svm.py:" in naive_svm["pinned"]
    assert "loss += reg * np.sum(W * W)" in naive_svm["pinned"]
    assert _outcomes(data, "svm_loss_naive") == {"passed"}

    vec_svm = conv["svm_loss_vectorized_regularisation"]
    assert vec_svm["value"] == HALF and vec_svm["graded_as"] == FULL and "pinned" in vec_svm
    assert "wrong" in _outcomes(data, "svm_loss_vectorized")
    assert "the assignment pins the L2 term" in _warnings(data, "svm_loss_vectorized")

    vec_soft = conv["softmax_loss_vectorized_regularisation"]
    assert vec_soft["value"] == HALF and vec_soft["graded_as"] == HALF
    assert "softmax.py:" in vec_soft["evidence"] and "0.5 * reg" in vec_soft["evidence"]
    assert _outcomes(data, "softmax_loss_vectorized") == {"passed"}
    assert "accepted" in _warnings(data, "softmax_loss_vectorized")

    naive_soft = conv["softmax_loss_naive_regularisation"]
    assert naive_soft["value"] == "not stated" and naive_soft["graded_as"].startswith("either")
    assert _outcomes(data, "softmax_loss_naive") == {"passed"}
    assert "both accepted" in _warnings(data, "softmax_loss_naive")


def test_a_starter_pinning_half_reg_is_graded_as_half(course, tmp_path: Path) -> None:
    """An older starter (0.5 * reg in the staff code of svm_loss_naive) pins 0.5 for both SVM
    functions; a vectorized SVM using reg * sum(W*W) is then the one that differs."""
    tree = trees.write(tmp_path / "jon", 2017, split=False)
    svm = tree / "cs231n" / "classifiers" / "linear_svm.py"
    _edit(svm, "svm_loss_naive", "loss += reg * np.sum(W * W)", "loss += 0.5 * reg * np.sum(W * W)")
    _edit(svm, "svm_loss_naive", "dW += 2 * reg * W", "dW += reg * W")
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("losses",), layout="cs231n")
    data = _results(out, "jon")
    conv = data["extra_data"]["conventions"]
    assert conv["svm_loss_naive_regularisation"]["graded_as"] == HALF
    assert conv["svm_loss_vectorized_regularisation"]["graded_as"] == HALF
    assert _outcomes(data, "svm_loss_naive") == {"passed"}
    assert "wrong" in _outcomes(data, "svm_loss_vectorized")


def test_adam_t_default_by_year(tmp_path: Path) -> None:
    for year, value in ((2017, "1"), (2018, "0"), (2024, "0")):
        tree = trees.write(tmp_path / str(year), year, split=False)
        files = cs231n._tree_files(tree, "cs231n")
        found = cs231n.conventions.decide(files)["adam_t_default"]
        assert found["value"] == value, year
        assert found["evidence"].startswith("cs231n/optim.py:")
        assert f'setdefault("t", {value})' in found["evidence"]


def test_adam_starting_at_1_is_adapted(course, tmp_path: Path) -> None:
    """2017's adam (setdefault('t', 1), t incremented before use) passes every adam check; the
    same code with the adaptation's evidence removed fails the fresh-state ones."""
    graded = {}
    for name in ("kim", "lee"):
        tree = trees.write(tmp_path / name, 2017, split=False)
        optim = tree / "cs231n" / "optim.py"
        if name == "lee":  # t = 1 written so that the text no longer says it
            _edit(optim, "adam", 'config.setdefault("t", 1)', 'config["t"] = config.get("t", 1)')
        out = tmp_path / f"out-{name}"
        grade_batch(course, [tree], out, ("optimizers",), layout="cs231n")
        graded[name] = _results(out, name)
    kim, lee = graded["kim"], graded["lee"]
    assert kim["extra_data"]["conventions"]["adam_t_default"]["value"] == "1"
    assert _outcomes(kim, "adam") == {"passed"}
    assert "starts config['t'] at 1" in _warnings(kim, "adam")
    assert lee["extra_data"]["conventions"]["adam_t_default"]["value"] == "not stated"
    fresh = [t for t in _tests(lee, "adam") if "config=None" in t["name"]]
    assert fresh and all(t["extra_data"]["outcome"] == "wrong" for t in fresh)


def test_l2_factor_probe_in_the_worker_runtime() -> None:
    """The loader's probe (run in the worker) tells 0.5 * reg from reg by the loss's growth."""
    namespace: dict = {"__name__": "probe"}
    exec(
        compile((Path(cs231n.__file__).parent / "cs231n_loader.py").read_text(), "l", "exec"),
        namespace,
    )
    rng = np.random.default_rng(0)
    W, X, y = rng.standard_normal((3, 4)), rng.standard_normal((5, 3)), rng.integers(0, 4, 5)

    def half(W, X, y, reg):
        return float(np.sum(X @ W) + 0.5 * reg * np.sum(W * W)), reg * W

    def full(W, X, y, reg):
        return float(np.sum(X @ W) + reg * np.sum(W * W)), 2 * reg * W

    assert namespace["_l2_factor"](half, W, X, y, 0.3) == 2.0
    assert namespace["_l2_factor"](full, W, X, y, 0.3) == 1.0
    assert namespace["_l2_factor"](full, W, X, y, 0.0) is None
    either = namespace["_reg_either"](half)
    loss, dW = either(W, X, y, 0.3)
    assert np.isclose(loss, np.sum(X @ W) + 0.3 * np.sum(W * W)) and np.allclose(dW, 0.6 * W)


def test_old_numpy_and_python_2_code_is_an_environment_error_with_its_line(
    course, tmp_path: Path
) -> None:
    """np.int, reshape(newshape=...), int() of a 1-element array and Python 2's integer ``/``:
    ``exception``, 0 points, a message naming the incompatibility, its fix and the line of the
    student's cs231n file; the other functions of the same file still grade."""
    tree = trees.write(tmp_path / "max", 2019, split=False)
    layers = tree / "cs231n" / "layers.py"
    good = "    out = x.reshape(x.shape[0], -1).dot(w) + b\n"
    _edit(layers, "affine_forward", good, good.replace("reshape(", "reshape(newshape=("))
    _edit(layers, "affine_forward", "-1).dot(w)", "-1)).dot(w)")
    _edit(
        layers,
        "relu_forward",
        "    out = np.maximum(0, x)\n",
        "    out = np.maximum(0, x)\n    out = out * int(np.ones(1))\n",
    )
    _edit(
        layers,
        "max_pool_forward_naive",
        "H_out = 1 + (H - PH) // stride",
        "H_out = 1 + (H - PH) / stride",
    )
    _edit(layers, "conv_forward_naive", "dtype=x.dtype)", "dtype=np.float)")
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("backprop", "conv", "dropout"), layout="cs231n")
    data = _results(out, "max")
    text = layers.read_text().splitlines()
    expected = {
        "affine_forward": ("reshape(newshape=...) was removed in numpy 2.1", "reshape(newshape="),
        "relu_forward": ("use x.item()", "int(np.ones(1))"),
        "max_pool_forward_naive": ("use // for integer division", "np.zeros("),
        "conv_forward_naive": ("np.float was removed in numpy 1.24", "dtype=np.float"),
    }
    for function, (fix, code) in expected.items():
        tests = [t for t in _tests(data, function) if t["extra_data"]["kind"] != "gradient"]
        assert tests and {t["extra_data"]["outcome"] for t in tests} == {"exception"}, function
        assert sum(t["score"] for t in tests) == 0
        shown = [t["output"] for t in tests if t["visibility"] == "visible"]
        assert shown and all("[environment incompatibility:" in o and fix in o for o in shown)
        line = next(i for i, t in enumerate(text, 1) if code in t and i > _line(text, function))
        assert all(f"at cs231n/layers.py:{line} in {function}" in o for o in shown), shown[0]
    assert _outcomes(data, "dropout_forward") == {"passed"}  # same file, other functions


def _line(lines: list[str], function: str) -> int:
    return next(i for i, t in enumerate(lines, 1) if t.startswith(f"def {function}("))


def test_errors_name_the_line_of_the_cs231n_file(course, tmp_path: Path) -> None:
    """A method of a class (TwoLayerNet.loss) and a file failing at import name their line."""
    tree = trees.write(tmp_path / "ned", 2021, split=False)
    fc_net = tree / "cs231n" / "classifiers" / "fc_net.py"
    _edit(
        fc_net,
        "TwoLayerNet",
        "        num_train = scores.shape[0]\n",
        "        num_train = scores.shape[0] / np.int(1)\n",
    )
    optim = tree / "cs231n" / "optim.py"
    optim.write_text(optim.read_text() + "\n\nLR = np.float(1e-2)\n")
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("backprop", "optimizers"), layout="cs231n")
    data = _results(out, "ned")
    lines = fc_net.read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "np.int(1)" in t)
    losses = [
        t["output"]
        for t in _tests(data, "TwoLayerNet")
        if t["extra_data"]["outcome"] == "exception" and t["visibility"] == "visible"
    ]
    assert losses
    for o in losses:
        assert f"at cs231n/classifiers/fc_net.py:{line} in loss" in o, o
    assert all("np.int was removed" in o for o in losses)
    line = len(optim.read_text().splitlines())
    sgd = [t["output"] for t in _tests(data, "sgd") if t["visibility"] == "visible"]
    assert sgd and all("cs231n/optim.py could not be imported" in o for o in sgd)
    assert all(f"at cs231n/optim.py:{line} in <module>: LR = np.float(1e-2)" in o for o in sgd)
    assert all("np.float was removed" in o for o in sgd)
