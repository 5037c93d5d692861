"""``grader export otter --out DIR``: the course as otter-grader autograders, one per topic.

otter grades one ``.py`` per submission (two top-level modules stop it), so every topic is an
assignment of its own: ``DIR/<topic>/autograder.zip``, graded on ``<topic>.py``. A zip holds:

- ``otter_config.json``, which names the kit's plugin ``grader.exporters.otter_plugin.KitJudge``
  (from the installed kit, never from the zip): it has the kit's judge grade the submission in
  fresh processes and keeps the student's code out of otter's kernel;
- ``tests/<topic>-<function>.py``, one otter question per function, one case per check with the
  check's points and visibility (hidden checks are hidden cases); a case prints the kit's
  feedback when its check fails;
- the course: ``autograder.yml``, the secret (in the config's ``secret_file``) and
  ``solutions/``, outside otter's ``files/`` (which otter copies over students' modules).

Next to each zip, ``DIR/<topic>/master/<topic>.ipynb`` is the topic as a master notebook for
``otter assign`` (``grader.exporters.otter_assign``), graded by the same plugin.

The zips are generated from the registry and ``autograder.yml`` on every run and are the same
bytes on every export of the same tree (sorted members, fixed timestamps).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.config import ConfigError, Course
from grader.exporters.gradescope import _add, _tree
from grader.exporters.otter_assign import PLUGIN, write_master


@dataclass(frozen=True)
class Export:
    """What ``export`` wrote: one zip and one master notebook per topic."""

    zips: dict[str, Path]
    masters: dict[str, Path]


def otter_config(topic: str) -> dict[str, object]:
    """``otter_config.json`` of ``topic``'s autograder."""
    return {"lang": "python", "plugins": [{PLUGIN: {"topic": topic}}], "print_summary": True}


def test_files(course: Course, topic: str) -> dict[str, str]:
    """``tests/<topic>-<function>.py`` (OK format) for every function of ``topic``."""
    by_function: dict[str, list] = {}
    for plan in course.plans[topic]:
        function = plan.check_id.split("/", 1)[1].split(":", 1)[0]
        by_function.setdefault(function, []).append(plan)
    files = {}
    for function, plans in by_function.items():
        name = f"{topic}-{function}"
        cases = [
            {
                "code": ">>> from grader.exporters.otter_case import check\n"
                f">>> check({plan.check_id!r})\n",
                "hidden": plan.visibility != "visible",
                "locked": False,
                "name": plan.check_id,
            }
            for plan in plans
        ]
        spec = {
            "name": name,
            "points": [plan.points for plan in plans],
            "suites": [
                {"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}
            ],
        }
        files[f"tests/{name}.py"] = f"OK_FORMAT = True\n\ntest = {spec!r}\n"
    return files


def export(course: Course, config_path: Path, out: Path, topics: tuple[str, ...]) -> Export:
    """Write ``out/<topic>/autograder.zip`` for each of ``topics``. Raises ``ConfigError`` when
    the course has no file to carry its secret; nothing is written then."""
    secret_file = course.config.secret_file
    if not secret_file:
        raise ConfigError(
            "autograder.yml sets no secret_file: the zip carries the course secret in that file"
        )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: the otter export is a folder (one zip per topic)")
    common: dict[str, bytes] = {
        name: path.read_bytes() for name, path in _tree(course.solutions_dir, "solutions")
    }
    common["autograder.yml"] = config_path.read_bytes()
    common[secret_file] = (course.secret + "\n").encode()
    zips, masters = {}, {}
    for topic in topics:
        files = dict(common)
        files["otter_config.json"] = (json.dumps(otter_config(topic), indent=2) + "\n").encode()
        files.update((k, v.encode()) for k, v in test_files(course, topic).items())
        target = out / topic / "autograder.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with zipfile.ZipFile(tmp, "w") as archive:
            for name in sorted(files):
                _add(archive, name, files[name])
        tmp.replace(target)
        zips[topic] = target
        masters[topic] = write_master(course, config_path, out, topic)
    return Export(zips, masters)
