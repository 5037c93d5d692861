"""The plots of ``grader report``: matplotlib figures as PNG data URIs, for pages that need no
network and no other file.

matplotlib is imported here only, when a chart is drawn (the grading path never pays for it),
and through its object-oriented API with the Agg canvas: no pyplot, no global backend switch,
so a notebook or another caller's backend is left alone. Chart text is language-neutral (topic
names, check ids, numbers): a Chinese caption goes in the page, where the browser has fonts
for it, not into the image, where matplotlib's default font has none.
"""

from __future__ import annotations

import base64
import inspect
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN = 9.0  # figure width in inches; at DPI this is the image's width in pixels
DPI = 100
BAR = "#3b6ea8"
FAIL = "#c0504d"
LIGHT = "#d9d9d9"


class ChartsUnavailable(Exception):
    """matplotlib is not installed."""


def require() -> None:
    """Raise ``ChartsUnavailable`` (saying what to install) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ChartsUnavailable(
            "grader report draws its charts with matplotlib, which is not installed: "
            "pip install matplotlib"
        ) from exc


def _figure(height_in: float) -> tuple[Figure, Axes]:
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _data_uri(fig: Figure) -> str:
    """``fig`` as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(bins: Sequence[tuple[str, int]]) -> str:
    """Students per score bin: ``bins`` is ``[(label, count)]`` (``ClassStats.histogram``)."""
    fig, ax = _figure(3.2)
    labels = [label for label, _ in bins]
    counts = [count for _, count in bins]
    ax.bar(range(len(bins)), counts, color=BAR, width=0.8)
    ax.set_xticks(range(len(bins)), labels, rotation=0, fontsize=8)
    ax.set_xlabel("%")
    ax.yaxis.get_major_locator().set_params(integer=True)
    for x, count in enumerate(counts):
        if count:
            ax.text(x, count, str(count), ha="center", va="bottom", fontsize=8)
    return _data_uri(fig)


def distributions(percents: dict[str, list[float]]) -> str:
    """Per topic, every student's percentage: a box plot with the points over it.
    ``percents``: topic -> percentages (0-100), one per student graded on the topic."""
    topics = list(percents)
    fig, ax = _figure(0.9 + 0.45 * len(topics))
    values = [percents[t] for t in topics]
    rows = range(len(topics), 0, -1)  # first topic on top
    # matplotlib 3.10 renamed vert=False to orientation="horizontal" (3.11 warns on vert)
    sideways = (
        {"orientation": "horizontal"}
        if "orientation" in inspect.signature(ax.boxplot).parameters
        else {"vert": False}
    )
    ax.boxplot(values, positions=list(rows), widths=0.5, showfliers=False, **sideways)
    for y, points in zip(rows, values):
        # a little vertical spread, the same on every run, so equal scores stay visible
        spread = [y + 0.12 * (((i * 7919) % 11) / 10 - 0.5) for i in range(len(points))]
        ax.scatter(points, spread, s=14, color=BAR, alpha=0.7, zorder=3)
    ax.set_yticks(list(rows), topics)
    ax.set_xlim(-3, 103)
    ax.set_xlabel("%")
    return _data_uri(fig)


def pass_rates(rates: Sequence[tuple[str, float]]) -> str:
    """Pass rate (0-1) per check, one bar each, in the given order from the top."""
    fig, ax = _figure(0.8 + 0.24 * len(rates))
    rows = list(range(len(rates), 0, -1))
    shares = [100 * rate for _, rate in rates]
    ax.barh(rows, [100] * len(rates), color=LIGHT, height=0.7)
    ax.barh(rows, shares, color=BAR, height=0.7)
    ax.set_yticks(rows, [name for name, _ in rates], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% passed")
    return _data_uri(fig)


def topic_scores(scores: dict[str, tuple[float, float]]) -> str:
    """One student's points per topic: ``scores`` is topic -> (score, max score); each bar is
    the percentage, labelled with the points."""
    topics = list(scores)
    fig, ax = _figure(0.8 + 0.4 * len(topics))
    rows = list(range(len(topics), 0, -1))
    shares = [100 * s / m if m else 0.0 for s, m in scores.values()]
    ax.barh(rows, [100] * len(topics), color=LIGHT, height=0.6)
    colours = [FAIL if share == 0 else BAR for share in shares]  # nothing earned stands out
    ax.barh(rows, shares, color=colours, height=0.6)
    ax.set_yticks(rows, topics)
    for y, (score, max_score) in zip(rows, scores.values()):
        ax.text(101, y, f"{score:g}/{max_score:g}", va="center", fontsize=8)
    ax.set_xlim(0, 115)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("%")
    return _data_uri(fig)
