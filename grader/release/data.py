"""The release's answers on disk: plain data trees as JSON with their arrays in ``.npz``.

Format (``FORMAT`` below; DATA.md in a release says the same for students):

- ``data/manifest.json``: ``{"format": FORMAT, "secret_id": ..., "topics": {topic: {...}}}``
  where each topic has ``files`` (``<topic>.json``, ``<topic>.npz``), ``sha256`` (of the two
  files' bytes, in that order), ``checks`` (check id -> the answer keys it uses), ``excluded``
  (check id -> why it is not in the release), ``mistakes`` (the known mistakes' function, name,
  hint and compared outputs) and ``arrays`` (array name -> [dtype, shape]);
- ``data/<topic>.json``: ``{"entries": {key: {"result": T, "after": T, "state": T}}}`` where
  ``key`` is ``grader.judge.expected.key_of`` of the call (and of the global generator's state
  when the call drew from it), and ``T`` a tree: JSON ``null``, booleans, integers, strings and
  lists as themselves, ``{"f": float.hex()}``, ``{"t": [...]}`` (a tuple), ``{"d": [[k, v]...]}``
  (a dict), ``{"a": name}`` (an array of the npz), ``{"g": name}`` (a numpy scalar, a 0-d array
  of the npz);
- ``data/<topic>.npz``: the arrays, read with ``allow_pickle=False`` (no object arrays).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "grader-release-data-1"
MANIFEST = "manifest.json"
RESTORE = (
    "restore the kit's data/ folder from the release zip (instructor: grader release --out DIR)"
)


class Unrecordable(Exception):
    """A value that is not plain data (a torch module, a handle, a callable)."""


class DataProblem(Exception):
    """The release's data is missing, truncated, of another format or stale: one line that
    says which and how to restore it."""


class Encoder:
    """Trees -> JSON-able values; arrays collected under names ``<prefix><n>``."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, value: np.ndarray) -> str:
        if value.dtype.hasobject or value.dtype.fields is not None:
            raise Unrecordable(f"array of dtype {value.dtype}")
        name = f"{self.prefix}{len(self.arrays)}"
        self.arrays[name] = value.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        return name

    def encode(self, value: Any) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return {"f": value.hex()}
        if kind is np.ndarray:
            return {"a": self._array(value)}
        if isinstance(value, np.generic) and kind.__module__ == "numpy":
            return {"g": self._array(np.asarray(value))}
        if kind is tuple:
            return {"t": [self.encode(v) for v in value]}
        if kind is list:
            return [self.encode(v) for v in value]
        if kind is dict:
            return {"d": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        raise Unrecordable(kind.__name__)


def decode(tree: Any, arrays: Any) -> Any:
    """The value a tree stands for (fresh arrays: a caller may write into them)."""
    if tree is None or isinstance(tree, (bool, int, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    (tag, body), *_ = tree.items()
    if tag == "f":
        return float.fromhex(body)
    if tag == "a":
        return np.array(arrays[body])
    if tag == "g":
        return np.asarray(arrays[body])[()]
    if tag == "t":
        return tuple(decode(v, arrays) for v in body)
    if tag == "d":
        return {decode(k, arrays): decode(v, arrays) for k, v in body}
    raise DataProblem(f"unknown tag {tag!r} in the release data")


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def write_topic(folder: Path, topic: str, entries: dict[str, dict], arrays: dict) -> dict:
    """Write ``<topic>.json`` and ``<topic>.npz``; return the manifest's part for the topic
    (files, sha256, arrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    index, npz = folder / f"{topic}.json", folder / f"{topic}.npz"
    index.write_text(json.dumps({"entries": entries}, sort_keys=True), encoding="utf-8")
    np.savez_compressed(npz, **arrays)
    return {
        "files": [index.name, npz.name],
        "sha256": digest(index, npz),
        "arrays": {k: [v.dtype.str, list(v.shape)] for k, v in sorted(arrays.items())},
    }


def read_manifest(folder: Path) -> dict:
    """The manifest, or ``DataProblem`` (missing, unreadable, another format)."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataProblem(f"the release data {path} is missing: {RESTORE}") from None
    except (OSError, ValueError) as exc:
        raise DataProblem(f"the release data {path} is unreadable ({exc}): {RESTORE}") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise DataProblem(
            f"the release data {path} is format {found!r}, this grader reads {FORMAT!r}: {RESTORE}"
        )
    return manifest


def read_topic(folder: Path, topic: str, manifest: dict) -> tuple[dict, Any]:
    """(entries, arrays) of ``topic``, after checking the files against the manifest."""
    part = manifest["topics"].get(topic)
    if part is None:
        raise DataProblem(f"the release data has no topic {topic!r}: {RESTORE}")
    paths = [folder / name for name in part["files"]]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataProblem(f"the release data {', '.join(missing)} is missing: {RESTORE}")
    if digest(*paths) != part["sha256"]:
        raise DataProblem(
            f"the release data of {topic} ({', '.join(p.name for p in paths)}) is truncated "
            f"or changed (sha256 differs from {MANIFEST}): {RESTORE}"
        )
    try:
        entries = json.loads(paths[0].read_text(encoding="utf-8"))["entries"]
        with np.load(paths[1], allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataProblem(f"the release data of {topic} is unreadable ({exc}): {RESTORE}") from None
    return entries, arrays
