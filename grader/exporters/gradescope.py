"""``grader export gradescope --out autograder.zip``: the course as a Gradescope autograder.

The zip holds, at its root (Gradescope unpacks it into ``/autograder/source``):

- ``setup.sh``: installs torch's CPU wheel (pinned) and then the kit from the zip's own files;
- ``run_autograder``: grades ``/autograder/submission`` with the shipped course config and
  secret through ``grader.exporters.gradescope_run`` and writes
  ``/autograder/results/results.json`` (the kit's results.json is already Gradescope's format),
  never ending without it;
- the course files: the ``grader`` package, ``solutions/``, ``autograder.yml``, the course secret
  (in the config's ``secret_file``), ``pyproject.toml`` and ``README.md`` (which pip needs).

The export is generated from the registry and ``autograder.yml`` on every run and is not kept
in the repository (there is nothing on disk for ``grader validate`` to compare). Two exports of
the same tree are byte for byte the same zip (sorted members, fixed timestamps), so an export
can be compared with an earlier one.
"""

from __future__ import annotations

import shlex
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import grader
from grader.config import ConfigError, Course

TORCH_PIN = "torch==2.13.0"  # the version the kit is tested with (README's install line)
ROOT_ENV = "GRADER_AUTOGRADER_ROOT"  # run_autograder's root; Gradescope's is /autograder
SCRIPTS = ("setup.sh", "run_autograder")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: the same bytes on every export
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".grader-cache"}


@dataclass(frozen=True)
class Export:
    """What ``export`` wrote: the zip, its member names and the topics it grades."""

    zip_path: Path
    members: tuple[str, ...]
    topics: tuple[str, ...]


def template(name: str, topics: tuple[str, ...]) -> str:
    """The text of the script ``name`` (``setup.sh`` or ``run_autograder``) for ``topics``."""
    text = resources.files("grader.exporters").joinpath("templates", name).read_text()
    topic_args = " ".join(f"--topic {shlex.quote(t)}" for t in topics)
    return text.replace("@TORCH_PIN@", TORCH_PIN).replace("@TOPIC_ARGS@", topic_args)


def _tree(folder: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for every file under ``folder``, caches and bytecode left out."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if _SKIP_PARTS & set(rel.parts) or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        yield f"{prefix}/{rel.as_posix()}", path


def _kit_root() -> Path:
    """The source tree the running ``grader`` package belongs to (pyproject.toml beside it)."""
    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ConfigError(
            f"the export needs the kit's source tree (pyproject.toml next to the grader package, "
            f"in {root}); run it from a checkout installed with pip install -e"
        )
    return root


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def export(course: Course, config_path: Path, out: Path, topics: tuple[str, ...]) -> Export:
    """Write the Gradescope autograder zip of ``course`` (read from ``config_path``) to ``out``,
    grading ``topics``. Raises ``ConfigError`` when the course has no file to carry its secret
    or ``out`` is not a ``.zip`` path; nothing is written then."""
    if out.suffix != ".zip":
        raise ConfigError(f"--out {out}: the Gradescope autograder is a .zip file")
    secret_file = course.config.secret_file
    if not secret_file:
        raise ConfigError(
            "autograder.yml sets no secret_file: the zip carries the course secret in that file"
        )
    kit = _kit_root()
    files: dict[str, bytes] = {}
    for name, path in (*_tree(kit / "grader", "grader"), *_tree(course.solutions_dir, "solutions")):
        files[name] = path.read_bytes()
    files["pyproject.toml"] = (kit / "pyproject.toml").read_bytes()
    files["README.md"] = (kit / "README.md").read_bytes()
    files["autograder.yml"] = config_path.read_bytes()
    files[secret_file] = (course.secret + "\n").encode()
    for script in SCRIPTS:
        files[script] = template(script, topics).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(files):
            _add(archive, name, files[name], executable=name in SCRIPTS)
    tmp.replace(out)
    return Export(out, tuple(sorted(files)), topics)
