"""Recording the public checks' answers: the solutions graded on every visible check under the
public secret, through ``RecordingReference`` (every reference call and every known mistake's
output kept as data), then written as ``grader.release.data`` files.

Besides the solutions, the example submissions of the tree (``examples/submissions``, when
there) are graded the same way: their wrong answers lead the checks down the paths a wrong
student takes (a trajectory of a mistaken optimizer, a second call after a wrong first one), so
the fingerprints those paths ask for are kept too.

While recording, the code that runs inside a known mistake's model (and nowhere else) is noted
(``Recorded.model_code``): ``grader.release.strip`` takes it out of the copied package.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grader
from grader import pipeline, registry, release
from grader.checks.anchor import anchor_of
from grader.checks.base import Outcome
from grader.config import Course
from grader.judge.seeds import secret_id
from grader.layouts import select
from grader.layouts.kit import Submission
from grader.release.data import FORMAT, Encoder, decode, write_topic
from grader.release.replay import MISTAKE, RecordingReference

TOPICS_DIR = Path(grader.__file__).resolve().parent / "topics"
Code = tuple[str, int, str]  # (file relative to grader/topics, first line, name)


@dataclass
class Recorded:
    """What recording found: the manifest, the problems (a solution failing a public check)
    and the code of the mistakes' models."""

    manifest: dict
    problems: list[str] = field(default_factory=list)
    model_code: set[Code] = field(default_factory=set)
    excluded: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Tracer:
    """Which functions of grader/topics run inside a mistake's model, and which outside."""

    def __init__(self) -> None:
        self.inside: set[Code] = set()
        self.outside: set[Code] = set()
        self.depth = 0
        self.root = str(TOPICS_DIR)

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(self.root):
            key = (
                str(Path(code.co_filename).relative_to(TOPICS_DIR)),
                code.co_firstlineno,
                code.co_name,
            )
            (self.inside if self.depth else self.outside).add(key)
        return None  # no line events: only calls are counted


@contextmanager
def _recording(refs: dict[str, RecordingReference], tracer: _Tracer) -> Iterator[None]:
    def traced(ref: RecordingReference) -> None:
        original = ref.call

        def call(label: str, live: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
            model = label.startswith(MISTAKE)
            tracer.depth += model
            try:
                return original(label, live, args, kwargs)
            finally:
                tracer.depth -= model

        ref.call = call  # type: ignore[method-assign]

    for ref in refs.values():
        traced(ref)
    release._recording = refs
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)
        release._recording = None


def _kit(folder: Path, name: str, topics: tuple[str, ...]) -> Submission:
    modules = {t: folder / f"{t}.py" for t in topics if (folder / f"{t}.py").is_file()}
    return Submission(name, folder, modules)


def example_folders(course: Course) -> list[Path]:
    """The tree's example submissions (``examples/submissions/*``), by name."""
    base = course.root / "examples" / "submissions"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def _gated_on(topic: str, visible: list[str], left_out: dict[str, str]) -> dict[str, str]:
    """Checks gated on an anchor that is left out (``grader.checks.anchor``): without it in
    the release they cannot be gated, so they are left out too."""
    spec = registry.topic(topic)
    found = {}
    for check_id in visible:
        check = spec.check(check_id)
        function = getattr(check, "anchor_function", None) or check.function
        anchor = anchor_of(topic, function)
        if check_id not in left_out and anchor is not None and anchor.id in left_out:
            found[check_id] = f"counts only when its anchor {anchor.id!r} is right, left out"
    return found


def record(
    course: Course,
    topics: tuple[str, ...],
    out: Path,
    examples: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> Recorded:
    """Record ``topics`` into the data folder ``out`` (module docstring)."""
    import time

    started = time.perf_counter()
    step = on_step or (lambda text: None)
    public = replace(course, secret=release.PUBLIC)
    refs = {
        t: RecordingReference(course.solutions_dir / f"{t}.py", pipeline.reference_module)
        for t in topics
    }
    tracer = _Tracer()
    problems: list[str] = []
    with _recording(refs, tracer):
        report = pipeline.grade_submission(
            public,
            _kit(course.solutions_dir, "solutions", topics),
            topics,
            only_public=True,
            on_topic=lambda t: step(f"recording {t}"),
        )
        for r in report.results:
            if not r.passed and r.outcome is not Outcome.NOT_RUN:
                first = (r.message or r.outcome.value).splitlines()[0]
                problems.append(f"solutions fail {r.check_id}: {r.outcome.value}: {first}")
        for folder in example_folders(course) if examples else []:
            step(f"recording fingerprints: {folder.name}")
            with tempfile.TemporaryDirectory() as scratch:
                sub = select.submission(folder, topics, Path(scratch), "kit")
                pipeline.grade_submission(public, sub, topics, only_public=True)
    manifest: dict[str, Any] = {"format": FORMAT, "secret_id": secret_id(release.PUBLIC)}
    manifest["topics"] = {}
    excluded: dict[str, str] = {}
    for topic in topics:
        ref = refs[topic]
        visible = [p.check_id for p in public.plans[topic] if p.visibility == "visible"]
        left_out = {c: ref.unrecordable[c] for c in visible if c in ref.unrecordable}
        left_out.update(_gated_on(topic, visible, left_out))
        kept = [c for c in visible if c not in left_out]
        encoder, entries = Encoder(), {}
        for check in kept:
            for key in ref.keys.get(check, []):
                if key not in entries:
                    entry = ref.entries[key]
                    entries[key] = {
                        name: encoder.encode(decode(tree, ref.encoder.arrays))
                        if name != "raised"
                        else tree
                        for name, tree in entry.items()
                    }
        part = write_topic(out, topic, entries, encoder.arrays)
        part["checks"] = {c: ref.keys.get(c, []) for c in kept}
        part["excluded"] = left_out
        part["unfingerprinted"] = {c: ref.unprinted[c] for c in kept if c in ref.unprinted}
        spec = registry.topic(topic)
        part["mistakes"] = [
            {"function": m.function, "name": m.name, "hint": m.hint, "compare": m.compare}
            for m in spec.misconceptions
        ]
        manifest["topics"][topic] = part
        excluded.update(left_out)
    model_code = tracer.inside - tracer.outside
    return Recorded(manifest, problems, model_code, excluded, time.perf_counter() - started)
