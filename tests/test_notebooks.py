"""The notebooks (``notebooks/<topic>.py``, jupytext percent sources) and ``grader.notebook``.

Every notebook is executed headless (nbclient, an ipykernel of this interpreter from a kernel
spec made in a temporary folder): with the reference solutions in place
(``GRADER_ASSIGNMENTS=solutions``) no cell may fail, every cell that draws must show an image
and the check cell must report full marks; with the untouched stubs the notebook must still
run to its end, the check cell must say "NOT IMPLEMENTED" and the experiment cells must say
"not implemented yet" instead of raising. The notebooks run a few at a time (one event loop,
one kernel each), which roughly halves the wall time on two cores.

CI runs the solutions variant of every notebook and the stubs variant of ``STUB_TOPICS``;
``--runslow`` runs the stubs variant of every notebook.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from grader import notebook, registry  # noqa: E402
from tests import early  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TOPICS = registry.available()
# stubs variant in CI: one plain numpy topic, one with classes, one that needs torch in the
# kernel, and the simulated GPU
STUB_TOPICS = ("losses", "autograd", "frameworks", "cuda_timing")
CONCURRENCY = 3  # kernels at once, when run here
EARLY_CONCURRENCY = 1  # when run beside other tests (the other core is theirs)
CELL_TIMEOUT_S = 300
KERNEL = "dl-course-kit-test"
VARIANTS = {"solutions": ROOT / "solutions", "stubs": ROOT / "assignments"}


@dataclass(frozen=True)
class Run:
    """One executed notebook: the notebook with its outputs, the error if a cell raised."""

    topic: str
    variant: str
    notebook: object
    error: str | None
    seconds: float


def make_kernel_spec(data: Path) -> str:
    """A kernel spec for this interpreter in the Jupyter data folder ``data`` (nothing is
    installed for the user), to be found through ``JUPYTER_PATH``; its name."""
    folder = data / "kernels" / KERNEL
    folder.mkdir(parents=True)
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",  # not the warning about local TCP on every start
        ],
        "display_name": "Python 3 (dl-course-kit tests)",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KERNEL


@pytest.fixture(scope="session")
def kernel_spec(tmp_path_factory):
    """``make_kernel_spec`` in a temporary folder, on ``JUPYTER_PATH`` for the session."""
    data = tmp_path_factory.mktemp("jupyter")
    kernel = make_kernel_spec(data)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, (str(data), old)))
    yield kernel
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def _kernel_env(variant: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    env["GRADER_ASSIGNMENTS"] = str(VARIANTS[variant])
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # small matrices in several kernels at once: BLAS threads would only fight over the cores
    # (on a loaded two-core machine the RNN notebook took 68 s with 2 threads, 12 s with 1)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env.pop("GRADER_SECRET", None)  # the public checks, as a student has them
    return env


async def _execute(topic: str, variant: str, kernel: str, gate: asyncio.Semaphore) -> Run:
    nb = jupytext.read(NOTEBOOKS / f"{topic}.py", fmt="py:percent")
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=kernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    async with gate:
        start = time.perf_counter()
        try:
            await client.async_execute(env=_kernel_env(variant))
            error = None
        except nbclient.exceptions.CellExecutionError as exc:
            error = str(exc)
        return Run(topic, variant, nb, error, time.perf_counter() - start)


async def _execute_all(jobs: list[tuple[str, str]], kernel: str, at_once: int) -> list[Run]:
    gate = asyncio.Semaphore(at_once)
    return await asyncio.gather(*(_execute(t, v, kernel, gate) for t, v in jobs))


def jobs(runslow: bool) -> list[tuple[str, str]]:
    """The notebook runs a session asks for: every solutions variant, the stubs of
    ``STUB_TOPICS`` (of every topic with ``--runslow``)."""
    stubs = TOPICS if runslow else STUB_TOPICS
    return [(t, "solutions") for t in TOPICS] + [(t, "stubs") for t in stubs]


def run_all(wanted: list[tuple[str, str]], kernel: str, at_once: int) -> list[tuple]:
    """The runs as plain tuples (topic, variant, notebook, error, seconds)."""
    runs = asyncio.run(_execute_all(wanted, kernel, at_once))
    return [(r.topic, r.variant, r.notebook, r.error, r.seconds) for r in runs]


@pytest.fixture(scope="session")
def executed(request, kernel_spec):
    """Every notebook run the session asks for, executed once: started at collection, beside
    the tests before these (``tests/conftest.py``, ``tests/early.py``), else here."""
    if early.started("notebooks"):
        runs = [Run(*r) for r in early.wait("notebooks")]
    else:
        wanted = jobs(request.config.getoption("--runslow"))
        runs = [Run(*r) for r in run_all(wanted, kernel_spec, CONCURRENCY)]
    timings = ", ".join(f"{r.topic}/{r.variant} {r.seconds:.1f}s" for r in runs)
    print(f"\nnotebook execution times: {timings}")
    return {(r.topic, r.variant): r for r in runs}


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _draws(cell) -> bool:
    """A cell that shows a figure (its source calls ``plt.show()``)."""
    return "plt.show()" in cell.source


def _images(cell) -> int:
    return sum("image/png" in out.get("data", {}) for out in cell.outputs)


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/plain", "") + data.get("text/html", ""))
    return "".join(parts)


def _check_cells(nb) -> list:
    return [c for c in _code_cells(nb) if "notebook.check(" in c.source]


# -- the notebooks as sources -------------------------------------------------------------------


def test_every_topic_has_a_notebook():
    sources = {p.stem for p in NOTEBOOKS.glob("*.py")}
    assert sources == set(TOPICS), (
        f"missing: {sorted(set(TOPICS) - sources)}; not a topic: {sorted(sources - set(TOPICS))}"
    )


@pytest.mark.parametrize("topic", TOPICS)
def test_notebook_source_has_autoreload_the_module_and_a_check(topic):
    nb = jupytext.read(NOTEBOOKS / f"{topic}.py", fmt="py:percent")
    code = "\n".join(c.source for c in _code_cells(nb))
    assert "%load_ext autoreload" in code and "%autoreload 2" in code  # magics uncommented
    assert re.search(rf"^(import {topic}\b|from {topic} import )", code, re.M), code[:500]
    assert f'notebook.check("{topic}")' in code
    assert any(c.cell_type == "markdown" and "$" in c.source for c in nb.cells), "no formula"
    assert any(_draws(c) for c in _code_cells(nb)), "no plot"


def test_build_writes_valid_ipynb_for_every_source(tmp_path):
    written = notebook.build(NOTEBOOKS, tmp_path)
    assert sorted(p.stem for p in written) == sorted(TOPICS)
    for path in written:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert "jupytext" not in nb.metadata
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.source.startswith("%load_ext autoreload")


def test_build_refuses_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook sources"):
        notebook.build(tmp_path, tmp_path / "out")


def test_build_from_the_command_line(tmp_path):
    assert notebook.main(["build", str(NOTEBOOKS), str(tmp_path)]) == 0
    assert {p.stem for p in tmp_path.glob("*.ipynb")} == set(TOPICS)
    assert notebook.main(["build", str(tmp_path / "none"), str(tmp_path / "out")]) == 2


# -- executed with the solutions, and with the stubs ---------------------------------------------


@pytest.mark.parametrize("topic", TOPICS)
def test_notebook_runs_with_the_solutions(executed, topic):
    run = executed[(topic, "solutions")]
    assert run.error is None, run.error
    cells = _code_cells(run.notebook)
    for cell in cells:
        assert not any(o.get("output_type") == "error" for o in cell.outputs), cell.source
        assert "not implemented yet" not in _text(cell), cell.source
        if _draws(cell):
            assert _images(cell) >= 1, f"a plot cell showed no image:\n{cell.source}"
    (check,) = _check_cells(run.notebook)
    html = "".join(o.get("data", {}).get("text/html", "") for o in check.outputs)
    scores = re.search(r"(\d+(?:\.\d+)?) / (\d+(?:\.\d+)?) points \(public checks\)", html)
    assert scores, html[:2000]
    assert scores.group(1) == scores.group(2), f"the solutions lose points: {scores.group(0)}"
    assert "FAIL" not in html and "NOT IMPLEMENTED" not in html


def _stub_params():
    return [pytest.param(t, marks=() if t in STUB_TOPICS else pytest.mark.slow) for t in TOPICS]


@pytest.mark.parametrize("topic", _stub_params())
def test_notebook_runs_to_the_end_with_the_stubs(executed, topic):
    run = executed[(topic, "stubs")]
    assert run.error is None, run.error
    cells = _code_cells(run.notebook)
    assert all(c.get("execution_count") for c in cells), "not every cell ran"
    (check,) = _check_cells(run.notebook)
    html = "".join(o.get("data", {}).get("text/html", "") for o in check.outputs)
    assert "NOT IMPLEMENTED" in html, html[:2000]
    assert re.search(r"\b0 / \d+(?:\.\d+)? points \(public checks\)", html), html[:2000]
    assert "Traceback" not in html
    notes = sum("not implemented yet" in _text(c) for c in cells)
    assert notes >= 1, "no experiment cell said it was skipped"


# -- grader.notebook.check, directly ------------------------------------------------------------


def test_check_of_the_stubs_says_not_implemented_for_every_check():
    report = notebook.check("dropout", ROOT / "assignments")
    assert report.outcomes() == {"not_implemented": len(report.results)}
    assert report.score == 0 and not report.passed
    assert "NOT IMPLEMENTED" in report._repr_html_()
    assert "not implemented yet: dropout_forward, dropout_backward" in str(report)


def test_check_names_the_mistake_and_its_hint_in_html():
    report = notebook.check("losses", ROOT / "examples" / "submissions" / "bob")
    html = report._repr_html_()
    named = {r.misconception for r in report.results if r.misconception}
    assert "no max-shift before exp" in named
    assert "<b>known mistake:</b> no max-shift before exp" in html
    assert "subtract the row maximum" in html  # the hint
    assert "FAIL (wrong)" in html
    assert re.search(r"\d+ / \d+ points \(public checks\)", html)
    assert 0 < report.score < report.max_score


def test_check_text_is_what_grader_check_prints(capsys):
    from grader.cli import main

    folder = ROOT / "examples" / "submissions" / "bob"
    main(["check", "losses", "--submission", str(folder)])
    printed = capsys.readouterr().out
    report = notebook.check("losses", folder)
    # the same table rows and summary (the widths may differ)
    # a passing function's row (its count of checks comes from the course, not from here)
    passing = re.search(r"svm_loss_naive \(\d+ checks\)", str(report))
    assert passing is not None
    for row in (passing.group(0), "softmax_loss_vectorized: large scores"):
        assert row in printed and row in str(report)

    def summary(text):  # its words, without the rule above it
        return [w for w in text.rsplit("summary", 1)[1].split() if set(w) != {"─"}]

    assert summary(printed) == summary(str(report))
    assert "failing: svm_loss_vectorized" in " ".join(summary(printed))


def test_check_of_a_module_that_does_not_import_is_a_failure_not_a_crash(tmp_path):
    (tmp_path / "dropout.py").write_text("def dropout_forward(:\n", encoding="utf-8")
    report = notebook.check("dropout", tmp_path)
    assert report.score == 0
    assert {r.outcome.value for r in report.results} <= {"exception", "not_submitted"}
    assert "SyntaxError" in str(report) or "syntax" in str(report).lower()


def test_check_from_the_command_line(capsys):
    assert notebook.main(["check", "dropout", "--submission", str(ROOT / "assignments")]) == 1
    assert "NOT IMPLEMENTED" in capsys.readouterr().out
    assert notebook.main(["check", "dropout", "--submission", str(ROOT / "solutions")]) == 0
    score = re.search(r"([\d.]+) / ([\d.]+) points over the public checks", capsys.readouterr().out)
    assert score and score.group(1) == score.group(2)


def test_check_of_a_missing_folder_says_how_to_point_at_one(tmp_path):
    from grader.layouts.kit import LayoutError

    with pytest.raises(LayoutError, match="GRADER_ASSIGNMENTS"):
        notebook.check("dropout", tmp_path / "nowhere")


def test_student_text_is_escaped_in_the_html(tmp_path):
    (tmp_path / "dropout.py").write_text(
        "def dropout_forward(x, dropout_param):\n"
        "    print('<b>printed</b>')\n"
        "    raise ValueError('<script>alert(1)</script>')\n",
        encoding="utf-8",
    )
    html = notebook.check("dropout", tmp_path)._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "<b>printed</b>" not in html


def test_check_of_an_unknown_topic_names_the_topics():
    with pytest.raises(registry.UnknownTopic, match="available"):
        notebook.check("lossez", ROOT / "assignments")


def test_assignments_dir_prefers_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(notebook.ENV_ASSIGNMENTS, str(tmp_path))
    assert notebook.assignments_dir() == tmp_path.resolve()
    monkeypatch.delenv(notebook.ENV_ASSIGNMENTS)
    kit = tmp_path / "kit"
    (kit / "assignments").mkdir(parents=True)
    (kit / "notebooks").mkdir()
    assert notebook.assignments_dir(kit / "notebooks") == (kit / "assignments").resolve()


def test_needs_turns_not_implemented_into_a_note_and_lets_other_errors_through(capsys):
    with notebook.needs("thing"):
        raise NotImplementedError("thing: your code here")
    assert "not implemented yet: thing (thing: your code here)" in capsys.readouterr().out
    with pytest.raises(ValueError), notebook.needs("thing"):
        raise ValueError("a real bug")
    with notebook.needs("later"):
        notebook.ready(None)
    assert "an earlier cell it builds on was skipped" in capsys.readouterr().out


def test_simulated_gpu_is_undone_after_the_block():
    import time as time_module

    torch = pytest.importorskip("torch")
    from grader.sim.workloads import SimKernel, sim_kernel

    real_clock, real_available = time_module.perf_counter, torch.cuda.is_available
    with notebook.simulated_gpu() as device:
        kernel = SimKernel(device, sim_kernel(duration_ms=2.0, first_ms=2.0, slow_calls=0))
        start = time_module.perf_counter()
        kernel()
        launched = time_module.perf_counter() - start
        torch.cuda.synchronize()
        finished = time_module.perf_counter() - start
        assert torch.cuda.is_available()
    assert launched < 1e-4 < 1.5e-3 < finished  # asynchronous launch, then 2 ms of device time
    assert time_module.perf_counter is real_clock
    assert torch.cuda.is_available is real_available
