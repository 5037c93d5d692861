"""``--layout kit | cs231n | auto``: which layout reads each submission.

``auto`` decides per submission: a ``cs231n/`` folder at its root or up to two levels down (for
a zip: among the first three folders of its member names, below the one folder a zip of one
folder holds) means the CS231n layout,
anything else the kit layout. The layout used is recorded in ``extra_data.layout``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

from grader.layouts import cs231n, kit
from grader.layouts.kit import LayoutError, Submission

LAYOUTS = ("auto", "kit", "cs231n")


def is_cs231n(path: Path) -> bool:
    """Does ``path`` (a folder or a zip, never run) hold a ``cs231n/`` tree?"""
    kind = kit._kind(path)
    if kind == "folder":
        return cs231n.has_tree(path)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()[: kit.MAX_ZIP_FILES]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return False
        folders = [
            PurePosixPath(n).parts[:-1]
            for n in names
            if not n.startswith(("__MACOSX", ".")) and not n.endswith("/")
        ]
        if len({f[:1] for f in folders}) == 1:  # a zip of one folder: that folder is graded
            folders = [f[1:] for f in folders]
        return any("cs231n" in f[: cs231n.MAX_DEPTH] for f in folders)
    return False


def submission(path: Path, topics: tuple[str, ...], scratch: Path, layout: str) -> Submission:
    if layout == "cs231n" or (layout == "auto" and is_cs231n(path)):
        return cs231n.submission(path, topics, scratch)
    sub = kit.submission(path, topics, scratch)
    return replace(sub, extra={"layout": "kit"}) if layout == "auto" else sub


def discover(
    paths: list[Path], topics: tuple[str, ...], scratch: Path, layout: str = "kit"
) -> list[Submission]:
    """Expand CLI paths as ``kit.discover`` does, each submission read by ``layout``."""
    if layout == "kit":
        return kit.discover(paths, topics, scratch)
    found: list[Submission] = []
    for path in paths:
        if not os.path.lexists(path):
            raise LayoutError(f"{path} does not exist")
        one = kit._kind(path) != "folder" or (
            cs231n.is_one_submission(path) or kit._looks_like_submission(path, topics)
        )
        children = [] if one else kit._children(path)
        if children:
            found.extend(submission(c, topics, scratch, layout) for c in children)
        else:
            found.append(submission(path, topics, scratch, layout))
    return kit.unique_ids(found)
