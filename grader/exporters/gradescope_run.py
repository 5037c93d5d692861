"""The runner that the exported ``run_autograder`` calls inside Gradescope's image.

``python -m grader.exporters.gradescope_run --root /autograder [--topic T ...]`` grades
``ROOT/submission`` with ``grader grade`` (a child process, so a crash of the grader itself
cannot take the result with it) against ``ROOT/source/autograder.yml`` and the course secret
shipped next to it, and writes ``ROOT/results/results.json``. Whatever goes wrong (no course
secret, the grader stops, the upload holds no submission or several), it writes a schema-valid
result with score 0 and the reason instead: a Gradescope run never ends without results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from grader import __version__

RUN_TIMEOUT_ENV = "GRADER_RUN_TIMEOUT_S"
# Gradescope's own limit is at most 40 minutes; stop before it, so the result is ours
DEFAULT_TIMEOUT_S = 35 * 60
UPLOAD_HELP = (
    "upload your modules (losses.py, backprop.py, ...) at the top level or under assignments/, "
    "one .zip of them, or your CS231n assignment tree"
)


class GradingFailed(Exception):
    """The submission could not be graded; the message is shown to the student."""


def failed_result(reason: str) -> dict[str, Any]:
    """A schema-valid results.json for a run that graded nothing: score 0, ``reason`` shown."""
    return {
        "score": 0.0,
        "output": f"Your submission could not be graded: {reason}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "grader/upload: could not be graded",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": reason,
                "visibility": "visible",
                "extra_data": {"kind": "hygiene", "outcome": "crashed"},
            }
        ],
        "extra_data": {
            "topics": {},
            "isolation_level": "none",
            "grader_version": __version__,
            "status": "grader_error",
        },
    }


def _environment(source: Path) -> dict[str, str]:
    """The grader's environment: the secret comes from the zip's file, never from a variable
    the image happens to set (the config names the variable)."""
    from grader import config

    course = config.load(source / "autograder.yml")
    if course.secret_path is None or not course.secret_path.is_file():
        raise GradingFailed("the autograder holds no course secret (re-export it)")
    env = dict(os.environ)
    env.pop(course.config.secret_env, None)
    return env


def grade(root: Path, topics: list[str], timeout_s: float) -> dict[str, Any]:
    """Grade ``root/submission`` and return its results.json (checked against the schema)."""
    from grader.reports import gradescope

    source, upload = root / "source", root / "submission"
    if not upload.is_dir():
        raise GradingFailed(f"nothing was uploaded ({upload} is missing); {UPLOAD_HELP}")
    env = _environment(source)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as out:
        command = [sys.executable, "-m", "grader", "--config", str(source / "autograder.yml")]
        command += ["grade", str(upload), "--out", out, "--layout", "auto"]
        command += [arg for t in topics for arg in ("--topic", t)]
        try:
            done = subprocess.run(command, env=env, timeout=timeout_s, cwd=source)
        except subprocess.TimeoutExpired:
            raise GradingFailed(f"grading took longer than {timeout_s:g} s") from None
        if done.returncode != 0:
            raise GradingFailed(f"the grader stopped with status {done.returncode}")
        found = sorted(Path(out).glob("*/results.json"))
        if not found:
            raise GradingFailed(f"no submission found in the upload; {UPLOAD_HELP}")
        if len(found) > 1:
            names = ", ".join(p.parent.name for p in found)
            raise GradingFailed(f"the upload holds {len(found)} submissions ({names}); upload one")
        data = json.loads(found[0].read_text(encoding="utf-8"))
    gradescope.validate(data)
    return data


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.exporters.gradescope_run")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--topic", action="append", dest="topics", default=[])
    args = parser.parse_args(argv)
    timeout_s = float(os.environ.get(RUN_TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    try:
        data = grade(args.root, args.topics, timeout_s)
    except GradingFailed as exc:
        data = failed_result(str(exc))
    except Exception:  # noqa: BLE001 -- whatever broke, the student gets a result
        traceback.print_exc()  # stdout and stderr are for staff only (stdout_visibility)
        data = failed_result("the autograder failed (not your fault); your instructor will regrade")
    write_atomically(args.root / "results" / "results.json", data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
