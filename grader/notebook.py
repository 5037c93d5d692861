"""The notebooks' front door: ``check(topic)`` grades the student's module for one topic the way
``grader check`` does, and ``build(src, out)`` turns the notebook sources into ``.ipynb``.

``check`` runs the public checks through the same pipeline, judge and sandboxed worker as
``grader check`` (the student's code never runs in the notebook's kernel on the judge's behalf)
and returns a ``CheckReport``: Jupyter shows it as an HTML table (one row per check, or per
function where its checks end the same way, as in the terminal) with the outcome, the points
and the feedback, the named mistake and its hint where one matched; in a terminal ``print``
shows exactly what ``grader check`` prints.

Where the student's modules are: ``$GRADER_ASSIGNMENTS`` when set (the tests point it at
``solutions/`` or at the stubs), else ``assignments/`` next to the notebook's folder (the kit
has ``notebooks/`` and ``assignments/`` side by side), else the course's ``assignments/``.

The notebook sources (``notebooks/<topic>.py``) are jupytext percent scripts, so they diff as
code; ``python -m grader.notebook build [SRC] [OUT]`` writes the ``.ipynb`` files.

Helpers the notebooks share: ``use_assignments()`` (the student's folder first on ``sys.path``,
for ``import losses`` under ``%autoreload 2``), ``needs(what)`` (an experiment cell that meets
a ``NotImplementedError`` prints one line and the notebook goes on), ``ready(*results)`` (a
cell that builds on a skipped one is skipped too), ``load_digits()`` (scikit-learn's 8x8
digits, split and scaled) and ``simulated_gpu()`` (the kit's simulated CUDA device for a
``with`` block).
"""

from __future__ import annotations

import html
import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import config, i18n, registry
from grader.checks.base import Outcome
from grader.i18n import tr
from grader.pipeline import CheckResult, SubmissionReport
from grader.scratch import run_folder, user_base

ENV_ASSIGNMENTS = "GRADER_ASSIGNMENTS"
WIDTH = 100  # the terminal rendering's width (columns)

_STATUS_COLOURS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "skip": "#6e7781"}


def assignments_dir(start: Path | None = None) -> Path:
    """The folder with the student's topic modules: ``$GRADER_ASSIGNMENTS``, else
    ``../assignments`` seen from ``start`` (default: the working directory, which Jupyter sets
    to the notebook's folder), else ``assignments`` below ``start``, else the course's
    ``assignments/`` (found through ``autograder.yml`` upward from ``start``)."""
    if env := os.environ.get(ENV_ASSIGNMENTS):
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here.parent / "assignments", here / "assignments"):
        if candidate.is_dir():
            return candidate
    try:
        return config.load(config.find_config(here)).assignments_dir
    except config.ConfigError:
        return here.parent / "assignments"


def use_assignments(start: Path | None = None) -> Path:
    """Put the student's folder first on ``sys.path`` (so ``import losses`` imports the
    student's ``losses.py``, and ``%autoreload`` picks up every edit) and return it."""
    folder = assignments_dir(start)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return folder


def _course(folder: Path) -> config.Course:
    """The course: ``autograder.yml`` upward from the working directory, else from ``folder``."""
    for start in (Path.cwd(), folder):
        try:
            return config.load(config.find_config(start))
        except config.ConfigError as exc:
            problem = exc
            if "no autograder.yml found" not in str(exc):
                raise
    raise problem


@contextmanager
def needs(what: str) -> Iterator[None]:
    """Run an experiment cell's body; if it reaches code that is not written yet
    (``NotImplementedError``), say so in one line instead of a traceback, so that a notebook
    runs to its end with the stubs. Any other error is the student's to see, and propagates."""
    try:
        yield
    except NotImplementedError as exc:
        if "matplotlib.pyplot" in sys.modules:  # no half-drawn figure under the note
            sys.modules["matplotlib.pyplot"].close("all")
        why = f" ({exc})" if str(exc) else ""
        print(
            tr("not implemented yet: {what}. Write it, then rerun this cell.").format(
                what=what + why
            )
        )


def ready(*values: object) -> None:
    """Inside ``needs``: stop the cell (as not implemented) when an earlier experiment it
    builds on was skipped, which left its result at ``None``."""
    if any(v is None for v in values):
        raise NotImplementedError("an earlier cell it builds on was skipped")


@contextmanager
def simulated_gpu() -> Iterator[object]:
    """The kit's simulated CUDA device (``grader.sim``) in this kernel for the ``with`` block,
    as the ``cuda_timing`` worker has it: ``torch.cuda`` (events, synchronize, streams) and the
    ``time`` clocks run on a virtual clock, so timing code behaves as on an asynchronous GPU
    and no real time passes. Yields the ``SimDevice`` (``grader.sim.workloads.SimKernel``
    turns it into kernels); everything patched is restored on exit. Only for short blocks:
    other threads of the kernel see the virtual clocks while it lasts."""
    import time
    import timeit

    import torch

    from grader.sim import install

    clocks = ("perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns")
    saved_time = {name: getattr(time, name) for name in (*clocks, "sleep")}
    saved_timer = timeit.default_timer
    missing = object()
    saved_cuda = {
        name: getattr(torch.cuda, name, missing)
        for name in install.cuda_namespace(install.SimDevice())
    }
    try:
        yield install.install()
    finally:
        for name, value in saved_time.items():
            setattr(time, name, value)
        timeit.default_timer = saved_timer
        for name, value in saved_cuda.items():
            if value is missing:
                delattr(torch.cuda, name)
            else:
                setattr(torch.cuda, name, value)


def load_digits(
    val_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 images, 10 classes, pixels 0..16) as float64
    ``(X_train, y_train, X_val, y_val)``, X (N, 64) scaled to [0, 1], a seeded split."""
    from sklearn.datasets import load_digits as _load

    data = _load()
    X = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found: the pipeline's report and the hidden checks it did not run."""

    report: SubmissionReport
    hidden: dict  # topic -> student_view.Hidden
    folder: Path

    @property
    def results(self) -> tuple[CheckResult, ...]:
        return self.report.results

    @property
    def score(self) -> float:
        return self.report.score

    @property
    def max_score(self) -> float:
        return self.report.max_score

    @property
    def passed(self) -> bool:
        """Every public check that was run passed (``grader check`` exits 0)."""
        return all(r.passed for r in self.results if r.counts)

    def outcomes(self) -> dict[str, int]:
        """How many checks ended with each outcome (``{"passed": 71}``, ...)."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
        return counts

    def __str__(self) -> str:
        from rich.console import Console

        from grader.reports import student_view

        buffer = io.StringIO()
        # force_jupyter=False: in a kernel, rich would display into the notebook, not the buffer
        console = Console(
            file=buffer, width=WIDTH, color_system=None, highlight=False, force_jupyter=False
        )
        student_view.render(console, self.report, self.hidden)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return render_html(self.report, self.hidden)


def check(topic: str, path: str | os.PathLike | None = None) -> CheckReport:
    """Run the public checks of ``topic`` on the student's module, as ``grader check TOPIC``
    does, in a sandboxed worker; ``path`` is the folder of modules (default
    ``assignments_dir()``). A stub's checks come back ``not_implemented``, a module that does
    not import as that check's failure with the reason: nothing the module does raises here."""
    from grader.layouts.kit import LayoutError, submission
    from grader.pipeline import grade_submission
    from grader.reports import student_view

    folder = Path(path).expanduser().resolve() if path is not None else assignments_dir()
    if not folder.is_dir():
        raise LayoutError(
            f"{folder} is not a folder: pass path= the folder of your modules, or set "
            f"{ENV_ASSIGNMENTS}"
        )
    course = _course(folder)
    if topic not in course.topics:
        raise registry.UnknownTopic(topic)
    with run_folder(user_base()) as scratch:  # gone at the next run if this one is killed
        sub = submission(folder, (topic,), scratch)
        report = grade_submission(course, sub, (topic,), only_public=True)
    return CheckReport(report, student_view.hidden_checks(course, (topic,)), folder)


def _hints(topic: str) -> dict[str, str]:
    """Known mistakes of ``topic``: name -> hint (what the notebook shows beside the name)."""
    try:
        return {m.name: m.hint for m in registry.topic(topic).misconceptions}
    except registry.UnknownTopic:
        return {}


def _feedback(results: Sequence[CheckResult], hints: dict[str, str], shown: set[str]) -> str:
    """The HTML of a row's feedback: its distinct messages (each once per report), its named
    mistake and hint, its warnings."""
    first = results[0]
    parts = []
    if not first.passed and first.counts and first.outcome is not Outcome.NOT_IMPLEMENTED:
        for message in dict.fromkeys(r.message for r in results):
            if message in shown:
                parts.append(f"<i>{html.escape(tr('same as above'))}</i>")
                continue
            shown.add(message)
            text = html.escape(i18n.message(message))
            parts.append(f"<pre style='white-space:pre-wrap;margin:0'>{text}</pre>")
    elif first.outcome is Outcome.NOT_IMPLEMENTED:
        parts.append(html.escape(first.message.splitlines()[0] if first.message else ""))
    elif not first.counts:
        parts.append(html.escape(i18n.message(first.message)))
    for name in dict.fromkeys(r.misconception for r in results if r.misconception):
        hint = hints.get(name, "")
        parts.append(
            f"<div><b>{html.escape(tr('known mistake:'))}</b> {html.escape(tr(name))}"
            + (f"<br><b>{html.escape(tr('hint:'))}</b> {html.escape(tr(hint))}" if hint else "")
            + "</div>"
        )
    for warning in dict.fromkeys(w for r in results for w in r.warnings):
        parts.append(f"<div><b>{html.escape(tr('warning:'))}</b> {html.escape(warning)}</div>")
    return "".join(parts)


def render_html(report: SubmissionReport, hidden: dict) -> str:
    """``report`` as HTML: per topic a heading, a table (check, kind, status, points,
    feedback), then the closing summary of ``grader check``."""
    from grader.reports import student_view

    out = ["<div class='grader-check'>"]
    shown: set[str] = set()
    for topic, (score, max_score) in report.topic_scores().items():
        results = [r for r in report.results if r.topic == topic]
        hints = _hints(topic)
        out.append(f"<h4>{html.escape(student_view.heading(topic, score, max_score))}</h4>")
        out.append(
            "<table><thead><tr>"
            f"<th style='text-align:left'>{html.escape(tr('check'))}</th>"
            f"<th>{html.escape(tr('kind'))}</th><th>{html.escape(tr('status'))}</th>"
            f"<th>{html.escape(tr('points'))}</th>"
            f"<th style='text-align:left'>{html.escape(tr('feedback'))}</th></tr>"
            "</thead><tbody>"
        )
        for row in student_view.topic_rows(results):
            label, colour = student_view.status(row.results)
            kinds = sorted({r.kind for r in row.results})
            points = sum(r.points for r in row.results)
            max_points = sum(r.max_points for r in row.results if r.counts)
            out.append(
                "<tr>"
                f"<td style='text-align:left'>{html.escape(row.label)}</td>"
                f"<td>{html.escape(kinds[0] if len(kinds) == 1 else '')}</td>"
                f"<td style='color:{_STATUS_COLOURS[colour]};font-weight:bold'>"
                f"{html.escape(label)}</td>"
                f"<td style='text-align:right'>{points:g}/{max_points:g}</td>"
                f"<td style='text-align:left'>{_feedback(row.results, hints, shown)}</td>"
                "</tr>"
            )
        out.append("</tbody></table>")
    if report.student_output:
        out.append(f"<h4>{html.escape(tr('your program printed (capped)'))}</h4>")
        out.append(f"<pre>{html.escape(report.student_output[-3000:])}</pre>")
    summary = "\n".join(student_view.summary_lines(report, hidden, WIDTH))
    out.append(f"<h4>{html.escape(tr('summary'))}</h4><pre>{html.escape(summary)}</pre></div>")
    return "".join(out)


def build(src_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Convert every jupytext percent source ``src_dir/*.py`` into ``out_dir/<name>.ipynb``
    (no outputs; the kernel is the default ``python3``) and return the written paths."""
    import jupytext

    src, out = Path(src_dir), Path(out_dir)
    sources = sorted(p for p in src.glob("*.py") if not p.name.startswith("_"))
    if not sources:
        raise FileNotFoundError(f"no notebook sources (*.py) in {src}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        notebook = jupytext.read(source, fmt="py:percent")
        notebook.metadata.pop("jupytext", None)  # a built notebook is not paired with its source
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        target = out / f"{source.stem}.ipynb"
        jupytext.write(notebook, target, fmt="ipynb")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m grader.notebook")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="notebook sources (jupytext percent) -> .ipynb")
    b.add_argument("src", nargs="?", type=Path, default=Path("notebooks"))
    b.add_argument("out", nargs="?", type=Path, default=Path("build/notebooks"))
    c = sub.add_parser("check", help="the notebook's check of a topic, printed")
    c.add_argument("topic")
    c.add_argument("--submission", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            written = build(args.src, args.out)
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"wrote {len(written)} notebooks to {args.out}")
        return 0
    report = check(args.topic, args.submission)
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
