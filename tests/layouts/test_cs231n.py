"""The CS231n layout, end to end on fixture trees the tests write (``cs231n_trees``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema

from grader.batch import grade_batch
from grader.layouts import cs231n, select
from grader.reports.gradescope import schema
from tests.layouts import cs231n_trees as trees

ROOT = Path(__file__).resolve().parents[2]
FAST = ("losses", "dropout", "optimizers")


def _results(out: Path, student: str) -> dict:
    data = json.loads((out / student / "results.json").read_text())
    jsonschema.validate(data, schema())
    return data


def _outcomes(data: dict, function: str) -> set[str]:
    return {t["extra_data"]["outcome"] for t in data["tests"] if f"/{function}:" in t["name"]}


def _outputs(data: dict, function: str) -> str:
    return "\n".join(t["output"] for t in data["tests"] if f"/{function}:" in t["name"])


def _zip(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path("wrapper") / path.relative_to(folder.parent))
    return dest


def test_full_2017_tree_through_the_cli(tmp_path: Path) -> None:
    """assignment1/2/3 side by side, 2017: Python 2 imports, drop-probability dropout, a
    classifiers/__init__.py importing Cython that was never built; every mapped function of the
    reference's code passes (the seeded-mask check aside: a drop-convention draw differs)."""
    tree = trees.write(tmp_path / "alice", 2017)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "grader", "grade", str(tree), "--out", str(out)]
    run = subprocess.run(
        [*cmd, "--layout", "cs231n"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    data = _results(out, "alice")
    extra = data["extra_data"]
    assert extra["layout"] == "cs231n"
    assert extra["trees"] == ["assignment1/cs231n", "assignment2/cs231n", "assignment3/cs231n"]
    assert extra["conventions"]["dropout_p"]["value"] == "drop"
    assert "We drop each neuron" in extra["conventions"]["dropout_p"]["evidence"]
    mapped = sum(len(v) for v in cs231n.MAPPING.values())
    assert sum(extra["mapped_functions"].values()) == mapped - len(trees.NEW_IN_2018)
    for fn in trees.NEW_IN_2018:  # not in 2017's layers.py
        assert _outcomes(data, fn) == {"not_submitted"}, fn
    bad = [
        t["name"]
        for t in data["tests"]
        if t["extra_data"]["outcome"] not in ("passed", "not_run")
        and t["name"].split("/")[1].split(":")[0] not in trees.NEW_IN_2018
    ]
    assert bad == [
        "dropout/dropout_forward: same mask as the reference for a given seed (CS231n draw)"
    ]
    for fn in (
        "svm_loss_naive",
        "TwoLayerNet",
        "FullyConnectedNet",
        "lstm_backward",
        "adam",
        "spatial_batchnorm_forward",
    ):
        assert _outcomes(data, fn) == {"passed"}, fn
    # kit functions CS231n has no counterpart for are not run, and count for nothing
    l1 = [t for t in data["tests"] if "/l1_regularization:" in t["name"]]
    assert l1 and all(t["max_score"] == 0 for t in l1)
    warned = [
        t
        for t in data["tests"]
        if "/dropout_forward:" in t["name"] and t["visibility"] == "visible"
    ]
    assert all("DROP probability" in " ".join(t["extra_data"].get("warnings", [])) for t in warned)


def test_auto_tells_layouts_apart_and_reads_a_zip_one_level_down(course, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    flat = trees.write(tmp_path / "src" / "bob", 2021, split=False)
    batch.mkdir()
    _zip(flat, batch / "bob.zip")
    kit = batch / "carol"
    kit.mkdir()
    (kit / "dropout.py").write_text((ROOT / "solutions" / "dropout.py").read_text())
    out = tmp_path / "out"
    grade_batch(course, [batch], out, ("dropout",), layout="auto")
    bob, carol = _results(out, "bob"), _results(out, "carol")
    assert bob["extra_data"]["layout"] == "cs231n" and carol["extra_data"]["layout"] == "kit"
    assert bob["extra_data"]["conventions"]["dropout_p"]["value"] == "keep"
    assert _outcomes(bob, "dropout_forward") == {"passed"}
    assert _outcomes(carol, "dropout_forward") == {"passed"}


def test_broken_untouched_missing_and_old_code(course, tmp_path: Path) -> None:
    tree = trees.write(tmp_path / "dave", 2019)
    a1, a2 = tree / "assignment1" / "cs231n", tree / "assignment2" / "cs231n"
    (tree / "assignment3").rename(tmp_path / "gone")  # no rnn_layers.py anywhere
    # an untouched starter function
    softmax = a1 / "classifiers" / "softmax.py"
    text = softmax.read_text()
    start = text.index("def softmax_loss_vectorized(")
    softmax.write_text(text[:start] + trees.UNTOUCHED.replace("{name}", "softmax_loss_vectorized"))
    # Python 2 syntax in one file: the others still grade
    (a2 / "optim.py").write_text("def sgd(w, dw, config=None):\n    print 'hello'\n")
    # an old-numpy call
    svm = a1 / "classifiers" / "linear_svm.py"
    svm.write_text(
        svm.read_text().replace("dW = np.zeros(W.shape)", "dW = np.zeros(W.shape, dtype=np.int)", 1)
    )
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("losses", "optimizers", "rnn", "dropout"), layout="cs231n")
    data = _results(out, "dave")
    assert _outcomes(data, "softmax_loss_vectorized") == {"not_implemented"}
    assert "untouched" in _outputs(data, "softmax_loss_vectorized")
    assert _outcomes(data, "softmax_loss_naive") == {"passed"}
    assert _outcomes(data, "sgd") == {"exception"}
    assert "environment incompatibility: a Python 2 print statement: use print(...)" in _outputs(
        data, "sgd"
    )
    assert "at assignment2/cs231n/optim.py:2: print 'hello'" in _outputs(data, "sgd")
    assert _outcomes(data, "rnn_forward") == {"not_submitted"}
    assert "cs231n/rnn_layers.py" in _outputs(data, "rnn_forward")
    assert _outcomes(data, "svm_loss_naive") == {"exception"}
    assert "environment incompatibility: np.int was removed" in _outputs(data, "svm_loss_naive")
    assert _outcomes(data, "dropout_forward") >= {"passed"}  # 2019: keep probability


def test_import_failure_hides_no_other_file_and_py2_division(course, tmp_path: Path) -> None:
    tree = trees.write(tmp_path / "erin", 2024, split=False)
    root = tree / "cs231n"
    layers = root / "layers.py"
    layers.write_text(layers.read_text() + "\nimport a_module_that_does_not_exist\n")
    svm = root / "classifiers" / "linear_svm.py"
    svm.write_text(
        svm.read_text().replace(
            "def svm_loss_naive(",
            "def _unused(n):\n    return range(n / 2)\n\n\ndef svm_loss_naive(",
            1,
        )
        + "\n\ndef svm_loss_vectorized(W, X, y, reg):\n    return range(X.shape[0] / 2)\n"
    )
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("losses",), layout="cs231n")
    data = _results(out, "erin")
    assert _outcomes(data, "svm_loss") == {"exception"}
    assert "cs231n/layers.py could not be imported" in _outputs(data, "svm_loss")
    assert _outcomes(data, "softmax_loss_naive") == {"passed"}
    assert _outcomes(data, "svm_loss_naive") == {"passed"}
    assert _outcomes(data, "svm_loss_vectorized") == {"exception"}
    assert "true division" in _outputs(data, "svm_loss_vectorized")


def test_untouched_detection_and_conventions(tmp_path: Path) -> None:
    import ast

    starter = trees.UNTOUCHED.replace("{name}", "f")
    assert cs231n.untouched(ast.parse(starter).body[0], starter)
    done = starter.replace("    pass\n", "    out = x @ w + b\n")
    assert cs231n.untouched(ast.parse(done).body[0], done) is None
    for body, expected in (
        ("pass", True),
        ("raise NotImplementedError()", True),
        ("return 1", False),
    ):
        src = f'def g(x):\n    """doc"""\n    {body}\n'
        assert bool(cs231n.untouched(ast.parse(src).body[0], src)) is expected
    tree = trees.write(tmp_path / "t", 2018, split=False)
    assert select.is_cs231n(tree) and not select.is_cs231n(ROOT / "examples" / "alice")
    files = cs231n._tree_files(tree, "cs231n")
    assert cs231n.conventions.decide(files)["dropout_p"]["value"] == "drop"
    assert "cs231n.classifiers.fc_net" in files and not any("checkpoint" in d for d in files)


def test_backward_that_overwrites_dout_is_no_false_failure(course, tmp_path: Path) -> None:
    """CS231n's classic ``dx = dout; dx[x <= 0] = 0``: every call gets its own copy of dout
    (it crosses the wire), so the value and numeric-gradient checks that reuse dout pass."""
    tree = trees.write(tmp_path / "fay", 2020, split=False)
    layers = tree / "cs231n" / "layers.py"
    layers.write_text(
        layers.read_text().replace(
            "    dx = dout * (x > 0)\n", "    dx = dout\n    dx[x <= 0] = 0\n", 1
        )
    )
    rnn = tree / "cs231n" / "rnn_layers.py"
    step = "    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)\n"
    assert step in rnn.read_text()
    rnn.write_text(
        rnn.read_text().replace(
            step, "    dnext_c += dnext_h * o * (1 - tanh_c**2)\n    dc = dnext_c\n"
        )
    )
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("backprop", "rnn"), layout="cs231n")
    data = _results(out, "fay")
    relu = [t for t in data["tests"] if "/relu_backward:" in t["name"]]
    assert "dx[x <= 0] = 0" in layers.read_text()
    assert len(relu) > 3 and {t["extra_data"]["outcome"] for t in relu} == {"passed"}
    assert _outcomes(data, "affine_relu_backward") == {"passed"}
    assert _outcomes(data, "lstm_step_backward") == {"passed"}
    assert _outcomes(data, "lstm_backward") == {"passed"}  # it calls the step backward
    # reported, with the line, as a warning on the function's checks and in extra_data
    where = data["extra_data"]["in_place_upstream"]
    assert where["relu_backward"].startswith("cs231n/layers.py:")
    assert "dx[x <= 0] = 0" in where["relu_backward"]
    assert "dnext_c += dnext_h" in where["lstm_step_backward"]
    assert "affine_backward" not in where and "lstm_backward" not in where
    visible = [t for t in relu if t["visibility"] == "visible"]
    assert visible and all(
        "modifies its upstream gradient in place" in " ".join(t["extra_data"]["warnings"])
        for t in visible
    )


def test_in_place_upstream_detection() -> None:
    import ast

    from grader.layouts.cs231n_conventions import in_place_upstream

    class Parsed:
        shown = "cs231n/layers.py"

    cases = {
        "def f(dout, cache):\n    dout *= 2\n    return dout\n": 2,
        "def f(dout, cache):\n    dx = dout\n    dx[cache < 0] = 0\n    return dx\n": 3,
        "def f(dout, cache):\n    np.multiply(dout, cache, out=dout)\n    return dout\n": 2,
        "def f(dout, cache):\n    dx = dout * 1\n    dx[cache < 0] = 0\n    return dx\n": None,
        "def f(dout, cache):\n    dout = dout.copy()\n    dout += 1\n    return dout\n": None,
        "def f(dout, cache):\n    cache[0] += 1\n    return dout\n": None,
    }
    for source, line in cases.items():
        Parsed.source = source
        found = in_place_upstream(Parsed, ast.parse(source).body[0])
        if line is None:
            assert found is None, source
        else:
            assert found is not None and found.startswith(f"cs231n/layers.py:{line}:"), source


def test_a_buggy_function_loses_its_points(course, tmp_path: Path) -> None:
    tree = trees.write(tmp_path / "gus", 2022, split=False)
    layers = tree / "cs231n" / "layers.py"
    good = "    out = x.reshape(x.shape[0], -1).dot(w) + b\n"
    assert good in layers.read_text()
    layers.write_text(layers.read_text().replace(good, good.replace(" + b", ""), 1))
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("backprop",), layout="cs231n")
    data = _results(out, "gus")
    assert "wrong" in _outcomes(data, "affine_forward")
    assert _outcomes(data, "relu_forward") == {"passed"}
    assert data["tests"] and data["score"] < data["max_score"]


def test_groupnorm_with_g_in_gn_param(course, tmp_path: Path) -> None:
    tree = trees.write(tmp_path / "hal", 2018, split=False)
    layers = tree / "cs231n" / "layers.py"
    text = layers.read_text()
    head = text[text.index("def spatial_groupnorm_forward(") :]
    head = head[: head.index(":\n") + 2]
    assert "G: int" in head
    text = text.replace(head, "def spatial_groupnorm_forward(x, gamma, beta, gn_param):\n", 1)
    text = text.replace(
        '    eps = gn_param.get("eps", 1e-5)\n',
        '    eps = gn_param.get("eps", 1e-5)\n    G = gn_param["G"]\n',
        1,
    )
    layers.write_text(text)
    out = tmp_path / "out"
    grade_batch(course, [tree], out, ("batchnorm",), layout="cs231n")
    data = _results(out, "hal")
    assert _outcomes(data, "spatial_groupnorm_forward") == {"passed"}
    assert "reads G from gn_param" in json.dumps(data)


def test_grader_check_on_a_cs231n_tree(tmp_path: Path) -> None:
    """The student-side command: ``grader check --layout cs231n PATH`` and auto-detected with
    ``--submission``; exit 0 when every public check run passes, 1 when one fails."""
    tree = trees.write(tmp_path / "olga", 2024)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    base = [sys.executable, "-m", "grader", "check"]

    def check(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], cwd=ROOT, env=env, capture_output=True, text=True)

    run = check("losses", "--layout", "cs231n", str(tree))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "svm_loss_naive" in run.stdout and "softmax_loss_vectorized" in run.stdout
    layers = tree / "assignment2" / "cs231n" / "layers.py"
    good = "    out = x.reshape(x.shape[0], -1).dot(w) + b\n"
    layers.write_text(layers.read_text().replace(good, good.replace(" + b", ""), 1))
    run = check("backprop", "--submission", str(tree))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "affine_forward" in run.stdout
    assert "TwoLayerNet" in run.stdout  # the tree's fc_net.py, found without --layout


def test_zip_three_levels_deep_and_a_folder_of_flat_trees(course, tmp_path: Path) -> None:
    """``pat.zip/pat/assignment2/cs231n/`` with a file beside ``pat/`` (so the zip is not one
    folder) is found three levels down; a folder of students' flat trees is a batch."""
    src = trees.write(tmp_path / "src" / "pat", 2022)
    batch = tmp_path / "batch"
    batch.mkdir()
    with zipfile.ZipFile(batch / "pat.zip", "w") as archive:
        for path in sorted(src.rglob("*")):
            if path.is_file() and "assignment2" in path.parts:
                archive.write(path, path.relative_to(src.parent))
        archive.writestr("README.txt", "my submission")
    for name in ("quinn", "rosa"):
        trees.write(batch / name, 2019, split=False)
    assert select.is_cs231n(batch / "pat.zip")
    assert not cs231n.is_one_submission(batch) and cs231n.is_one_submission(batch / "rosa")
    assert cs231n.is_one_submission(src) and cs231n.is_one_submission(src.parent)
    out = tmp_path / "out"
    grade_batch(course, [batch], out, ("dropout",), layout="auto")
    for name in ("pat", "quinn", "rosa"):
        data = _results(out, name)
        assert data["extra_data"]["layout"] == "cs231n", name
        assert _outcomes(data, "dropout_forward") >= {"passed"}, name
    assert _results(out, "pat")["extra_data"]["trees"] == ["pat/assignment2/cs231n"]


def test_one_assignment_alone_through_the_cli_with_auto(tmp_path: Path) -> None:
    """assignment3 alone, zipped, graded by ``grader grade --layout auto``: its rnn functions
    grade, everything else is not_submitted naming the file expected, nothing crashes."""
    src = trees.write(tmp_path / "src" / "ada", 2023)
    for other in ("assignment1", "assignment2"):
        (src / other).rename(tmp_path / other)
    batch = tmp_path / "batch"
    batch.mkdir()
    _zip(src, batch / "ada.zip")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out)]
    cmd += ["--layout", "auto", "--topic", "rnn", "--topic", "backprop"]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = _results(out, "ada")
    assert data["extra_data"]["layout"] == "cs231n"
    assert data["extra_data"]["trees"] == ["ada/assignment3/cs231n"]
    assert _outcomes(data, "lstm_forward") == {"passed"}
    assert _outcomes(data, "affine_forward") == {"not_submitted"}
    assert "cs231n/layers.py" in _outputs(data, "affine_forward")
    assert _outcomes(data, "FullyConnectedNet") == {"not_submitted"}
    assert "ada" in (out / "gradebook.csv").read_text()


def test_links_in_a_tree_are_left_out_not_followed(course, tmp_path: Path) -> None:
    """A linked file or sub-folder of ``cs231n/`` (to the reference solutions, say) is a file
    the tree does not have: never read, its functions not found; a linked ``cs231n`` is no
    tree at all."""
    tree = trees.write(tmp_path / "gil", 2018, split=False)
    root = tree / "cs231n"
    (root / "optim.py").unlink()
    os.symlink(course.solutions_dir / "optimizers.py", root / "optim.py")
    (tmp_path / "elsewhere").mkdir()
    (root / "classifiers").rename(tmp_path / "elsewhere" / "classifiers")
    os.symlink(tmp_path / "elsewhere" / "classifiers", root / "classifiers")
    files = cs231n._tree_files(tree, "cs231n")
    assert "cs231n.layers" in files
    assert "cs231n.optim" not in files and not any(".classifiers." in d for d in files)
    sub = cs231n.submission(tree, ("optimizers",), tmp_path / "scratch")
    preset = sub.preset["optimizers"]
    assert preset["sgd"][0] == "not_submitted" and "was not found" in preset["sgd"][1]
    (tmp_path / "hal").mkdir()
    os.symlink(root, tmp_path / "hal" / "cs231n")
    refused = cs231n.submission(tmp_path / "hal", ("optimizers",), tmp_path / "scratch")
    assert refused.refused and "no cs231n/ folder found" in refused.refused
