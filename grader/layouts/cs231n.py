"""CS231n layout: a submission holding CS231n assignment trees as students have them.

A tree is a ``cs231n/`` folder at the submission root, or up to two levels down
(``assignment1/cs231n``, ``assignment2/cs231n``, ``assignment3/cs231n`` side by side, or one of
them alone; ``name/assignment2/cs231n``); a zip of one folder is that folder (``kit._extract``).
``MAPPING`` is the one table of where each kit function lives in CS231n's files across the
years (2017-2024): the first candidate file, in the first tree, whose text defines the name
wins.

The judge never imports student code: it reads the files as text and uses ``ast`` to find the
definitions, the untouched starter regions (``not_implemented``) and the conventions of the
tree's year (``conventions``). Per topic it writes a generated module into the scratch folder:
the runtime of ``cs231n_loader`` plus the trees' sources, which the worker imports as the topic
module and which loads each CS231n file on its own.
"""

from __future__ import annotations

import ast
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.judge.environment import environment_hint
from grader.layouts import cs231n_conventions as conventions
from grader.layouts import cs231n_fcnet as fcnet
from grader.layouts import kit, safe_files
from grader.layouts.cs231n_conventions import regions
from grader.layouts.kit import Refused, Submission

# kit topic -> kit function -> candidate (file under cs231n/, name in that file), in order
MAPPING: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "losses": {
        "svm_loss_naive": (("classifiers/linear_svm.py", "svm_loss_naive"),),
        "svm_loss_vectorized": (("classifiers/linear_svm.py", "svm_loss_vectorized"),),
        "softmax_loss_naive": (("classifiers/softmax.py", "softmax_loss_naive"),),
        "softmax_loss_vectorized": (("classifiers/softmax.py", "softmax_loss_vectorized"),),
        "svm_loss": (("layers.py", "svm_loss"),),  # 2017-2019 (assignment2/3 layers.py)
        "softmax_loss": (("layers.py", "softmax_loss"),),
    },
    "backprop": {
        "affine_forward": (("layers.py", "affine_forward"),),
        "affine_backward": (("layers.py", "affine_backward"),),
        "relu_forward": (("layers.py", "relu_forward"),),
        "relu_backward": (("layers.py", "relu_backward"),),
        "affine_relu_forward": (("layer_utils.py", "affine_relu_forward"),),
        "affine_relu_backward": (("layer_utils.py", "affine_relu_backward"),),
        "TwoLayerNet": (("classifiers/fc_net.py", "TwoLayerNet"),),
        "FullyConnectedNet": (("classifiers/fc_net.py", "FullyConnectedNet"),),  # CS231n-only
    },
    "dropout": {
        "dropout_forward": (("layers.py", "dropout_forward"),),
        "dropout_backward": (("layers.py", "dropout_backward"),),
    },
    "batchnorm": {
        name: (("layers.py", name), ("classifiers/cnn.py", name))
        for name in (
            "batchnorm_forward",
            "batchnorm_backward",
            "batchnorm_backward_alt",
            "layernorm_forward",
            "layernorm_backward",
            "spatial_batchnorm_forward",
            "spatial_batchnorm_backward",
            "spatial_groupnorm_forward",
            "spatial_groupnorm_backward",
        )
    },
    "conv": {
        name: (("layers.py", name),)
        for name in (
            "conv_forward_naive",
            "conv_backward_naive",
            "max_pool_forward_naive",
            "max_pool_backward_naive",
        )
    },
    "optimizers": {
        name: (("optim.py", name),) for name in ("sgd", "sgd_momentum", "rmsprop", "adam")
    },
    "rnn": {
        name: (("rnn_layers.py", name),)
        for name in (
            "rnn_step_forward",
            "rnn_step_backward",
            "rnn_forward",
            "rnn_backward",
            "word_embedding_forward",
            "word_embedding_backward",
            "temporal_affine_forward",
            "temporal_affine_backward",
            "temporal_softmax_loss",
            "lstm_step_forward",
            "lstm_step_backward",
            "lstm_forward",
            "lstm_backward",
        )
    },
}

# kit topic -> (check, plan) of the functions CS231n has and the kit has not, graded by a check
# set of the layout's own (with the topic's checks; not_submitted where the tree lacks them)
EXTRA = {"backprop": fcnet.plans()}

MAX_TREE_BYTES = 1536 * 1024  # sources embedded in one generated module (the worker reads 2 MiB)
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "datasets", "__MACOSX", ".git"}
LOADER_NAME = "<grader: cs231n loader>"
NO_COUNTERPART = "has no counterpart in CS231n's assignments: not graded for a CS231n tree"


@dataclass
class Parsed:
    """What the judge reads from one CS231n file without running it."""

    shown: str  # e.g. assignment2/cs231n/layers.py
    source: str
    defs: dict[str, ast.FunctionDef | ast.ClassDef] = field(default_factory=dict)
    error: str | None = None  # a syntax error


MAX_DEPTH = 3  # cs231n/ as the first, second or third folder: zip/name/assignment2/cs231n
MAX_SCANNED = 200  # folders looked into per level (a dataset folder is not searched through)


def find_roots(folder: Path) -> list[Path]:
    """The ``cs231n`` folders at ``folder`` or up to two levels down (``assignment1/cs231n``,
    ``name/assignment2/cs231n``), shallowest first, then in name order; a ``cs231n`` folder
    is not searched for another inside it."""
    roots: list[Path] = []
    level = [folder]
    for _ in range(MAX_DEPTH):
        below: list[Path] = []
        for parent in level:
            try:
                subs = sorted(p for p in parent.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError:
                continue
            for sub in subs:
                if sub.name == "cs231n":
                    roots.append(sub)
                elif sub.name not in SKIP_DIRS and not sub.name.startswith("."):
                    below.append(sub)
        level = below[:MAX_SCANNED]
    return roots


def has_tree(folder: Path) -> bool:
    return bool(find_roots(folder))


ASSIGNMENT = re.compile(r"^(assignment|hw|a)[ _-]?\d", re.IGNORECASE)


def is_one_submission(folder: Path) -> bool:
    """Is ``folder`` one student's trees (not a folder of students' submissions)? Yes when it
    has ``cs231n/`` itself, when the folders holding its trees are assignment folders
    (``assignment1``, ``hw2``, ``a3``), or when they all sit in one folder as
    ``name/assignment2/cs231n``; ``alice/cs231n`` next to ``bob/cs231n`` is a batch."""
    parts = [r.relative_to(folder).parts for r in find_roots(folder)]
    if not parts:
        return False
    tops = {p[0] for p in parts}
    if "cs231n" in tops or all(ASSIGNMENT.match(t) for t in tops):
        return True
    return len(tops) == 1 and all(len(p) == 3 and ASSIGNMENT.match(p[1]) for p in parts)


def _parse(data: bytes, shown: str) -> Parsed:
    source = data.decode("utf-8", errors="replace")
    parsed = Parsed(shown, source)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        parsed.error = f"{shown} has a syntax error at line {exc.lineno}: {exc.msg}"
        if exc.text and exc.text.strip():
            parsed.error += f"\n  at {shown}:{exc.lineno}: {exc.text.strip()[:120]}"
        parsed.error += environment_hint(f"SyntaxError: {exc.msg}\n")
        return parsed
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            parsed.defs[node.name] = node
    return parsed


def _code_lines(lines: list[str]) -> list[str]:
    return [s for s in (t.strip() for t in lines) if s and not s.startswith("#")]


def untouched(node: ast.FunctionDef | ast.ClassDef, source: str) -> str | None:
    """Why ``node`` is the untouched starter code (None: the student wrote something): every
    ``TODO``/``START OF YOUR CODE`` .. ``END OF YOUR CODE`` region holds only ``pass``, or
    (without markers) the body is only a docstring and ``pass``/``raise NotImplementedError``."""
    lines = source.splitlines()
    spans = regions(node, source)
    if spans:
        if all(set(_code_lines(lines[a - 1 : b])) <= {"pass"} for a, b in spans):
            return "its YOUR CODE region is untouched (only the starter `pass`)"
        return None
    if isinstance(node, ast.ClassDef):
        return None
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if all(isinstance(s, ast.Pass) for s in body):
        return "its body is only `pass`"
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        exc = body[0].exc
        name = exc.func if isinstance(exc, ast.Call) else exc
        if isinstance(name, ast.Name) and name.id == "NotImplementedError":
            return "its body only raises NotImplementedError"
    return None


def _class_untouched(node: ast.ClassDef, source: str) -> str | None:
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"]
    if methods and all(untouched(m, source) for m in methods):
        return "the YOUR CODE regions of its methods are untouched"
    return None


def _tree_files(folder: Path, shown_root: str) -> dict[str, Parsed]:
    """Every ``.py`` file of the tree ``shown_root`` of submission ``folder``, by dotted module
    name (``cs231n.classifiers.fc_net``), read without following any link (``safe_files``:
    a symlinked file or sub-folder is left out, as a file the tree does not have)."""
    files: dict[str, Parsed] = {}
    total = 0
    top = PurePosixPath(shown_root)
    for path, parent, entry in safe_files.walk(folder, top, frozenset(SKIP_DIRS)):
        rel = path.relative_to(top)
        if not entry.name.endswith(".py") or entry.name in ("__init__.py",) or rel.name[0] == ".":
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            data = safe_files.read_at(parent, entry.name, path, kit.MAX_MODULE_BYTES)
        except (safe_files.Unsafe, OSError):
            continue
        if total + len(data) > MAX_TREE_BYTES:
            continue
        total += len(data)
        dotted = ".".join(("cs231n", *rel.with_suffix("").parts))
        files[dotted] = _parse(data, f"{shown_root}/{rel.as_posix()}")
    return files


@dataclass
class Plan:
    exports: list[list] = field(default_factory=list)
    preset: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    in_place: dict[str, str] = field(default_factory=dict)  # backward -> where it modifies dout


IN_PLACE = (
    "{fn} modifies its upstream gradient in place ({where}); every call here gets its own "
    "copy, so it costs nothing, but a caller that reuses the array sees it changed: work on a "
    "copy (dx = dout.copy(), or dx = dout * mask)"
)


def plan_topic(topic: str, trees: list[dict[str, Parsed]], conv: dict) -> Plan:
    plan = Plan(preset={"*": ("not_run", f"this function {NO_COUNTERPART}")})
    for function, candidates in MAPPING.get(topic, {}).items():
        hit = None
        for index, files in enumerate(trees):
            for file, name in candidates:
                dotted = "cs231n." + file[:-3].replace("/", ".")
                parsed = files.get(dotted)
                if parsed is not None and (parsed.error or name in parsed.defs):
                    hit = (index, dotted, name, parsed)
                    break
            if hit:
                break
        if hit is None:
            where = " or ".join(f"cs231n/{f}" for f, _ in candidates)
            plan.preset[function] = (
                "not_submitted",
                f"{function} was not found in this CS231n tree (expected in {where})",
            )
            continue
        index, dotted, name, parsed = hit
        if parsed.error:
            plan.preset[function] = ("exception", f"{function}: {parsed.error}")
            continue
        node = parsed.defs[name]
        if isinstance(node, ast.ClassDef):
            why = _class_untouched(node, parsed.source)
        else:
            why = untouched(node, parsed.source)
        if why:
            plan.preset[function] = ("not_implemented", f"{function} in {parsed.shown}: {why}")
            continue
        wraps, note = conventions.adapt(function, node, conv)
        if function.endswith("_backward"):
            wraps.append("copy_upstream")
            if where := conventions.in_place_upstream(parsed, node):
                plan.in_place[function] = where
                note = "; ".join(filter(None, (note, IN_PLACE.format(fn=function, where=where))))
        if note:
            plan.notes[function] = note
        plan.exports.append([index, dotted, name, function, isinstance(node, ast.ClassDef), wraps])
    return plan


def _module_text(trees: list[dict[str, Parsed]], plan: Plan) -> str:
    loader = (Path(__file__).parent / "cs231n_loader.py").read_text(encoding="utf-8")
    exports = plan.exports
    used = {e[0] for e in exports}
    sources = [
        {d: [p.shown, p.source] for d, p in files.items()} if i in used else {}
        for i, files in enumerate(trees)
    ]
    # the loader runs under a name of its own: its frames are never taken for the student's
    return (
        f"_LOADER = {loader!r}\n"
        f"exec(compile(_LOADER, {LOADER_NAME!r}, 'exec', dont_inherit=True), globals())\n"
        f"_TREES = {sources!r}\n"
        f"_EXPORTS = {exports!r}\n"
        f"_DECIDED = {[sorted(plan.preset.items()), sorted(plan.notes.items())]!r}\n"
        "_install(globals(), _TREES, _EXPORTS)\n"
    )


def build(
    folder: Path, source: Path, student: str, topics: tuple[str, ...], scratch: Path
) -> Submission:
    """The submission of the CS231n trees under ``folder``; modules are generated in ``scratch``."""
    roots = find_roots(folder)
    trees = []
    for root in roots:
        trees.append(_tree_files(folder, root.relative_to(folder).as_posix()))
    merged = {f"{i}:{d}": p for i, files in enumerate(trees) for d, p in files.items()}
    conv = conventions.decide(merged)
    in_place: dict[str, str] = {}
    modules: dict[str, Path] = {}
    preset: dict[str, dict[str, tuple[str, str]]] = {}
    notes: dict[str, dict[str, str]] = {}
    mapped: dict[str, int] = {}
    scratch.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"{student}-cs231n-", dir=scratch))
    for topic in topics:
        if topic not in MAPPING:
            preset[topic] = {"*": ("not_run", f"topic {topic} {NO_COUNTERPART}")}
            continue
        plan = plan_topic(topic, trees, conv)
        preset[topic], notes[topic] = plan.preset, plan.notes
        mapped[topic] = len(plan.exports)
        in_place.update(plan.in_place)
        path = out / f"{topic}.py"  # also without exports: its text fingerprints the topic
        path.write_text(_module_text(trees, plan), encoding="utf-8")
        modules[topic] = path
    extra = {
        "layout": "cs231n",
        "trees": [r.relative_to(folder).as_posix() for r in roots],
        "conventions": conv,
        "mapped_functions": mapped,
    }
    if in_place:
        extra["in_place_upstream"] = in_place
    checks = {t: EXTRA[t] for t in topics if t in EXTRA}
    return Submission(
        student,
        source,
        modules,
        "cs231n",
        {},
        preset=preset,
        notes=notes,
        extra=extra,
        checks=checks,
    )


def submission(path: Path, topics: tuple[str, ...], scratch: Path) -> Submission:
    """One CS231n submission from a folder or a zip (unpacked into ``scratch``)."""
    path = path.absolute()
    student = kit.safe_id(path.stem if path.suffix == ".zip" else path.name)
    kind = kit._kind(path)
    try:
        if kind == "zip":
            scratch.mkdir(parents=True, exist_ok=True)
            dest = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=scratch))
            folder = kit._extract(path, dest)
        elif kind == "folder":
            folder = path
        else:
            raise Refused(kind)
        if not find_roots(folder):
            raise Refused("no cs231n/ folder found (at the root or up to two levels down)")
        return build(folder, path, student, topics, scratch)
    except Refused as exc:
        return Submission(student, path, {}, "cs231n", {}, refused=str(exc))
    except OSError as exc:
        return Submission(student, path, {}, "cs231n", {}, refused=f"unreadable: {exc.strerror}")
