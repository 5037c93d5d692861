"""Mutation testing of ``solutions/``, graded by the kit's own grader.

A mutant is a reference solution with one small change in the code a student writes (the lines
between ``# ***** START OF YOUR CODE *****`` and ``# ***** END OF YOUR CODE *****``). It is
graded exactly as a student file would be (``grader.pipeline.grade_topic``, the course's
sandbox and limits) against the untouched reference, and it is **killed** when it earns fewer
points on its topic than the reference does (a timeout, a crash or a bad output is a check
lost like any other). To save time the checks of the mutated function are graded first and the
rest of the topic only when those all pass; the reference earns every point, so a mutant that
loses a point in the first stage loses it on the topic.

Why an AST mutator of our own and not mutmut or cosmic-ray (both tried, see
``soundness/README.md``): both change the module where the grader's judge reads the reference
(cosmic-ray edits ``solutions/<topic>.py`` in place; mutmut 3 writes a ``mutants/`` copy whose
functions are trampolines that import mutmut and pick the mutant from ``MUTANT_UNDER_TEST``, an
environment variable the kit's worker scrubs by design), and both decide by a test command's
exit status, one process per mutant. Here the judge keeps the real reference, the mutant goes
to the worker as a student file, the operators are the ones numpy bugs are made of (axis and
keepdims dropped, ``.T`` or ``.copy()`` left out, slice and ``range`` bounds off by one, a
statement removed, an argument returned), and ids are stable across edits elsewhere in the file.

Usage::

    python scripts/mutation_testing.py [--topic T ...] [--jobs N] [--sample N --seed S]
        [--cache soundness/.cache/results.json] [--report soundness/REPORT.md] [--list]

Results are cached by the mutant's source hash and a fingerprint of the grader (its code,
``autograder.yml`` and the topic's reference), so an interrupted run resumes and a rerun after
a change to the checks regrades. ``soundness/equivalent.yml`` lists the mutants that no
correct grader can kill (same behaviour as the reference), each with the reason.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import multiprocessing
import os
import pickle
import random
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the grader of this checkout
    sys.path.insert(0, str(ROOT))

SOUNDNESS = ROOT / "soundness"
EQUIVALENT_FILE = SOUNDNESS / "equivalent.yml"
SURVIVORS_FILE = SOUNDNESS / "survivors.yml"
CACHE_FILE = SOUNDNESS / ".cache" / "results.json"
START, END = "# ***** START OF YOUR CODE *****", "# ***** END OF YOUR CODE *****"

# -- the mutator ------------------------------------------------------------------------------

BINOPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
}
COMPARES: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
CALLS = {  # np.<name> / x.<name> -> the function a slip of the keyboard or the mind gives
    "max": "min",
    "min": "max",
    "maximum": "minimum",
    "minimum": "maximum",
    "argmax": "argmin",
    "argmin": "argmax",
    "sum": "mean",
    "mean": "sum",
    "var": "std",
    "std": "var",
    "zeros": "ones",
    "ones": "zeros",
    "zeros_like": "ones_like",
    "ones_like": "zeros_like",
    "exp": "log",
    "log": "exp",
    "sqrt": "abs",
    "floor": "ceil",
    "ceil": "floor",
    "any": "all",
    "all": "any",
}
DROPPED_KEYWORDS = ("axis", "keepdims", "ddof", "copy", "out")
REMOVABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Raise, ast.Return)


@dataclass(frozen=True)
class Mutant:
    """One mutant: ``id`` is ``topic/function/operator/hash`` where the hash is that of the
    mutated function's AST (no line numbers), so it survives edits elsewhere in the file."""

    id: str
    topic: str
    function: str
    operator: str
    description: str
    line: int
    source: str

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def _regions(source: str) -> list[tuple[int, int]]:
    """The student regions: (first, last) line numbers strictly between the markers."""
    found, start = [], None
    for n, line in enumerate(source.splitlines(), 1):
        if line.strip() == START:
            start = n
        elif line.strip() == END and start is not None:
            found.append((start + 1, n - 1))
            start = None
    return found


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST, ast.AST]]:
    """(qualified name, function node, top-level node) for functions and methods."""
    for top in tree.body:
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            yield top.name, top, top
        elif isinstance(top, ast.ClassDef):
            for item in top.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{top.name}.{item.name}", item, top


def _name(node: ast.AST) -> str:
    return ast.unparse(node) if node is not None else ""


def _minus_one(expr: ast.expr) -> ast.expr:
    return ast.BinOp(left=expr, op=ast.Sub(), right=ast.Constant(1))


def _bumped(value: object) -> object | None:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return {0: 1, 1: 0}.get(value, value + 1)
    if isinstance(value, float):
        return {0.0: 1.0, 1.0: 0.0}.get(value, value + 1.0)
    return None


# An edit: (operator name, description, function that applies it in place to the copied node
# and its parent map; returns False when it does not apply after all).
Edit = tuple[str, str, Callable[[ast.AST, dict[ast.AST, ast.AST]], bool]]


def _edits(node: ast.AST, args: list[str]) -> Iterator[Edit]:
    """Every mutation of ``node`` (the node of the original tree; the edit is applied to the
    node at the same place in a copy)."""
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        new = BINOPS[type(node.op)]
        yield (
            f"binop {type(node.op).__name__}->{new.__name__}",
            f"`{_name(node)}`: {type(node.op).__name__} -> {new.__name__}",
            lambda n, p, new=new: bool(setattr(n, "op", new())) or True,
        )
    if isinstance(node, ast.AugAssign):
        if type(node.op) in BINOPS:
            new = BINOPS[type(node.op)]
            yield (
                f"augassign {type(node.op).__name__}->{new.__name__}",
                f"`{_name(node)}`: {type(node.op).__name__}= -> {new.__name__}=",
                lambda n, p, new=new: bool(setattr(n, "op", new())) or True,
            )
        yield ("augassign->assign", f"`{_name(node)}`: `op=` -> `=`", _aug_to_assign)
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARES:
                new = COMPARES[type(op)]

                def swap(n: ast.AST, p: dict, i: int = i, new: type = new) -> bool:
                    n.ops[i] = new()
                    return True

                yield (
                    f"compare {type(op).__name__}->{new.__name__}",
                    f"`{_name(node)}`: {type(op).__name__} -> {new.__name__}",
                    swap,
                )
    if isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield (
            f"boolop ->{new.__name__}",
            f"`{_name(node)}`: -> {new.__name__.lower()}",
            lambda n, p, new=new: bool(setattr(n, "op", new())) or True,
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        yield (
            f"unary {type(node.op).__name__} dropped",
            f"`{_name(node)}` -> `{_name(node.operand)}`",
            lambda n, p: _replace(n, p, n.operand),
        )
    if isinstance(node, ast.Constant) and _bumped(node.value) is not None:
        new_value = _bumped(node.value)
        yield (
            "constant",
            f"constant {node.value!r} -> {new_value!r}",
            lambda n, p, v=new_value: bool(setattr(n, "value", v)) or True,
        )
    if isinstance(node, ast.Call):
        yield from _call_edits(node)
    if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield ("transpose dropped", f"`{_name(node)}` -> `{_name(node.value)}`", _drop_attr)
    if isinstance(node, ast.Slice):
        if node.upper is not None and not isinstance(node.upper, ast.Constant):
            yield ("slice upper-1", f"slice `{_name(node)}`: upper bound - 1", _slice_upper)
        if node.lower is not None and not isinstance(node.lower, ast.Constant):
            yield ("slice lower+1", f"slice `{_name(node)}`: lower bound + 1", _slice_lower)
    if isinstance(node, REMOVABLE) and not _is_docstring(node):
        yield ("statement removed", f"`{_first_line(node)}` removed", _remove_statement)
    if isinstance(node, ast.Return) and node.value is not None and args:
        if _name(node.value) != args[0]:
            yield (
                "return argument",
                f"`{_first_line(node)}` -> `return {args[0]}`",
                lambda n, p, a=args[0]: bool(setattr(n, "value", ast.Name(a, ast.Load()))) or True,
            )


def _call_edits(node: ast.Call) -> Iterator[Edit]:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if isinstance(func, ast.Attribute) and name in CALLS:
        new = CALLS[name]
        yield (
            f"call {name}->{new}",
            f"`{_name(node)}`: {name} -> {new}",
            lambda n, p, new=new: bool(setattr(n.func, "attr", new)) or True,
        )
    if name == "copy" and isinstance(func, ast.Attribute) and not node.args:
        yield ("copy dropped", f"`{_name(node)}` -> `{_name(func.value)}`", _drop_method_copy)
    if (
        name == "range"
        and node.args
        and not isinstance(node.args[-1 if len(node.args) < 3 else 1], ast.Constant)
    ):
        yield ("range stop-1", f"`{_name(node)}`: stop - 1", _range_stop)
    for i, kw in enumerate(node.keywords):
        default = isinstance(kw.value, ast.Constant) and (
            kw.value.value is None or kw.value.value is False  # `is`: axis=0 is not False
        )
        if kw.arg in DROPPED_KEYWORDS and not default:

            def drop(n: ast.AST, p: dict, i: int = i) -> bool:
                del n.keywords[i]
                return True

            yield (f"keyword {kw.arg} dropped", f"`{_name(node)}`: `{kw.arg}=` dropped", drop)


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _first_line(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0]
    return text if len(text) <= 70 else text[:67] + "..."


def _replace(node: ast.AST, parents: dict, new: ast.AST) -> bool:
    parent = parents[node]
    for field, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, field, new)
            return True
        if isinstance(value, list) and any(v is node for v in value):
            value[[i for i, v in enumerate(value) if v is node][0]] = new
            return True
    return False


def _aug_to_assign(node: ast.AugAssign, parents: dict) -> bool:
    return _replace(node, parents, ast.Assign(targets=[node.target], value=node.value, lineno=0))


def _drop_attr(node: ast.Attribute, parents: dict) -> bool:
    return _replace(node, parents, node.value)


def _drop_method_copy(node: ast.Call, parents: dict) -> bool:
    return _replace(node, parents, node.func.value)


def _slice_upper(node: ast.Slice, parents: dict) -> bool:
    node.upper = _minus_one(node.upper)
    return True


def _slice_lower(node: ast.Slice, parents: dict) -> bool:
    node.lower = ast.BinOp(left=node.lower, op=ast.Add(), right=ast.Constant(1))
    return True


def _range_stop(node: ast.Call, parents: dict) -> bool:
    i = 0 if len(node.args) == 1 else 1
    node.args[i] = _minus_one(node.args[i])
    return True


def _remove_statement(node: ast.stmt, parents: dict) -> bool:
    return _replace(node, parents, ast.Pass())


def _in_regions(node: ast.AST, regions: list[tuple[int, int]]) -> bool:
    line = getattr(node, "lineno", None)
    return line is not None and any(a <= line <= b for a, b in regions)


def _arguments(fn: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    return [n for n in names if n not in ("self", "cls")]


def _body_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """Nodes of the function's body, not of its signature (annotations, defaults)."""
    for stmt in fn.body:
        yield from ast.walk(stmt)


def _parent_indices(fn: ast.AST, nodes: list[ast.AST]) -> list[int | None]:
    """For each of ``nodes`` (``_body_nodes(fn)``, in that order) the index of its parent among
    them, None for ``fn`` itself: a copy of ``fn`` walks the same, so its parents are found by
    index."""
    index = {id(node): i for i, node in enumerate(nodes)}
    parent_of: list[int | None] = [None] * len(nodes)
    for parent in ast.walk(fn):
        for child in ast.iter_child_nodes(parent):
            if id(child) in index:
                parent_of[index[id(child)]] = index.get(id(parent))
    return parent_of


def mutants(topic: str, source: str) -> list[Mutant]:
    """Every distinct mutant of the student regions of ``source`` (sorted by id)."""
    tree = ast.parse(source)
    regions = _regions(source)
    lines = source.splitlines(keepends=True)
    found: dict[str, Mutant] = {}
    invalid: set[str] = set()  # digests of mutated functions that do not compile
    original_dumps = {name: ast.dump(fn) for name, fn, _ in _functions(tree)}
    for name, fn, _top in _functions(tree):
        originals = list(_body_nodes(fn))
        args = _arguments(fn)
        start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
        before, after = "".join(lines[: start - 1]), "".join(lines[fn.end_lineno :])
        pristine = pickle.dumps(fn)  # a fresh copy per edit: many times faster than deepcopy
        parent_of = _parent_indices(fn, originals)
        for index, node in enumerate(originals):
            if not _in_regions(node, regions):
                continue
            for operator, description, apply in _edits(node, args):
                mutated = pickle.loads(pristine)
                nodes = list(_body_nodes(mutated))
                target, parent = nodes[index], parent_of[index]
                if not apply(target, {target: mutated if parent is None else nodes[parent]}):
                    continue
                dump = ast.dump(mutated)
                digest = hashlib.sha256(f"{name}\n{dump}".encode()).hexdigest()[:12]
                if dump == original_dumps[name] or digest in found or digest in invalid:
                    continue  # unchanged, or the same function as an earlier edit made
                unparsed = ast.unparse(mutated)
                try:  # the function alone: nothing around it changed
                    compile(unparsed, f"{topic}.py", "exec")
                except (SyntaxError, ValueError, TypeError):
                    invalid.add(digest)
                    continue
                text = textwrap.indent(unparsed, " " * fn.col_offset)
                new_source = before + text + "\n" + after
                mutant_id = f"{topic}/{name}/{operator}/{digest}"
                # one mutant per mutated function, whatever made it (the first edit that did)
                found[digest] = Mutant(
                    mutant_id, topic, name, operator, description, node.lineno, new_source
                )
    return sorted(found.values(), key=lambda m: m.id)


def null_mutant(topic: str, source: str) -> Mutant:
    """The control: every function unparsed as the mutants are, nothing changed. It must earn
    every point (else the splicing of mutants, not the mutation, would kill them)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    spans = [
        (min([fn.lineno, *(d.lineno for d in fn.decorator_list)]), fn)
        for _, fn, _ in _functions(tree)
    ]
    for start, fn in sorted(spans, key=lambda span: -span[0]):  # bottom-up: lines stay valid
        lines[start - 1 : fn.end_lineno] = [
            textwrap.indent(ast.unparse(fn), " " * fn.col_offset) + "\n"
        ]
    return Mutant(f"{topic}/-/null/-", topic, "-", "null", "no change", 0, "".join(lines))


# -- grading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """How one mutant fared: ``killed`` (fewer points than the reference on its topic) or
    ``survived``; ``by`` names the first check it lost and how (``outcome``)."""

    id: str
    status: str
    by: str = ""
    outcome: str = ""
    seconds: float = 0.0


def grader_fingerprint(topic: str) -> str:
    """What a verdict depends on besides the mutant: the grader's code, the course file and
    the topic's reference solution."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "grader").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    h.update((ROOT / "autograder.yml").read_bytes())
    h.update((ROOT / "solutions" / f"{topic}.py").read_bytes())
    return h.hexdigest()[:16]


def _score(course, topic: str, path: Path, plans) -> tuple[float, list]:
    from grader.pipeline import grade_topic, sandbox_for

    staged = replace(course, plans={**course.plans, topic: tuple(plans)})
    results, _ = grade_topic(staged, topic, path, None, sandbox_for(staged))
    return sum(r.points for r in results), results


_REFERENCE: dict[tuple[str, int], dict[str, float]] = {}


def reference_points(course, topic: str) -> dict[str, float]:
    """Points the reference earns on each check of ``topic`` (graded once per process)."""
    key = (topic, id(course))
    if key not in _REFERENCE:
        _, results = _score(
            course, topic, course.solutions_dir / f"{topic}.py", course.plans[topic]
        )
        _REFERENCE[key] = {r.check_id: r.points for r in results}
    return _REFERENCE[key]


def _function_of_check(check_id: str) -> str:
    return check_id.split("/", 1)[1].split(":", 1)[0]


def grade(course, mutant: Mutant) -> Result:
    """Grade ``mutant`` with ``course``; killed when it earns less than the reference on the
    checks graded (the mutated function's checks first, then the rest of the topic).
    ``not_run`` when this machine runs none of the mutated function's checks (GPU-only
    checks without CUDA) and no other check kills it: neither killed nor a survivor."""
    from grader.checks.base import Outcome

    started = time.perf_counter()
    ref = reference_points(course, mutant.topic)
    owner = mutant.function.split(".")[0]
    plans = course.plans[mutant.topic]
    first = [p for p in plans if _function_of_check(p.check_id) == owner]
    rest = [p for p in plans if _function_of_check(p.check_id) != owner]
    unrun = False
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        path = Path(tmp) / f"{mutant.topic}.py"
        path.write_text(mutant.source, encoding="utf-8")
        for stage in (first, rest):
            if not stage:
                continue
            points, results = _score(course, mutant.topic, path, stage)
            if stage is first:
                unrun = all(r.outcome is Outcome.NOT_RUN for r in results)
            if points < sum(ref.get(p.check_id, 0.0) for p in stage):
                lost = next(r for r in results if r.points < ref.get(r.check_id, 0.0))
                return Result(
                    mutant.id,
                    "killed",
                    lost.check_id,
                    lost.outcome.value + (" (grader fault)" if lost.grader_fault else ""),
                    round(time.perf_counter() - started, 2),
                )
    status = "not_run" if unrun else "survived"
    return Result(mutant.id, status, seconds=round(time.perf_counter() - started, 2))


_COURSE = None


def _init_worker() -> None:
    global _COURSE
    from grader import config

    _COURSE = config.load(ROOT / "autograder.yml")


def _grade_in_pool(mutant: Mutant) -> Result:
    try:
        return grade(_COURSE, mutant)
    except Exception as exc:  # a grader bug on this mutant: kept visible, never fatal
        return Result(mutant.id, "killed", "grader error", f"{type(exc).__name__}: {exc}")


def load_cache(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_cache(path: Path, cache: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def run(
    selected: list[Mutant],
    jobs: int,
    cache_path: Path,
    progress: Callable[[str], None] = print,
) -> dict[str, Result]:
    """Grade ``selected`` (cached results reused), ``jobs`` mutants at a time."""
    cache = load_cache(cache_path)
    prints = {t: grader_fingerprint(t) for t in {m.topic for m in selected}}

    def key(m: Mutant) -> str:
        return f"{m.source_hash}:{prints[m.topic]}"

    results = {m.id: Result(**{**cache[key(m)], "id": m.id}) for m in selected if key(m) in cache}
    todo = [m for m in selected if m.id not in results]
    progress(f"{len(selected)} mutants, {len(results)} cached, {len(todo)} to grade")
    if not todo:
        return results
    done_since_save, started = 0, time.perf_counter()
    # spawn, not fork: forking a process that runs threads (pytest, the grader's readers) can
    # copy a held lock into the child, which then hangs
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(1, jobs), spawn, initializer=_init_worker) as pool:
        futures = {pool.submit(_grade_in_pool, m): m for m in todo}
        for n, future in enumerate(as_completed(futures), 1):
            m, result = futures[future], future.result()
            results[m.id] = result
            cache[key(m)] = {k: v for k, v in asdict(result).items() if k != "id"}
            done_since_save += 1
            if done_since_save >= 10 or n == len(todo):
                save_cache(cache_path, cache)
                done_since_save = 0
            rate = (time.perf_counter() - started) / n
            progress(
                f"[{n}/{len(todo)}] {result.status:8} {m.id} {result.by} "
                f"(eta {rate * (len(todo) - n) / 60:.0f} min)"
            )
    return results


# -- equivalents, triage, report --------------------------------------------------------------


def load_equivalent(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """``{mutant id: reason}`` from ``soundness/equivalent.yml``."""
    return _load_reasons(path)


def _load_reasons(path: Path, key: str = "reason") -> dict[str, str]:
    import yaml

    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {entry["id"]: str(entry[key]).strip() for entry in data}


@dataclass(frozen=True)
class Tally:
    mutants: int
    killed: int
    equivalent: int
    survived: int
    not_run: int = 0  # every check of the function needs a GPU this machine lacks

    @property
    def kill_rate(self) -> float:
        """Killed over the non-equivalent mutants graded here (1.0 when there are none)."""
        graded = self.killed + self.survived
        return self.killed / graded if graded else 1.0


def tally(results: Iterable[Result], equivalent: dict[str, str]) -> Tally:
    """Counts where a survivor listed as equivalent counts as equivalent (a listed mutant
    that is killed counts as killed: the listing was wrong, and the report says so)."""
    counts = Counter()
    for r in results:
        if r.status in ("killed", "not_run"):
            counts[r.status] += 1
        elif r.id in equivalent:
            counts["equivalent"] += 1
        else:
            counts["survived"] += 1
    return Tally(
        sum(counts.values()),
        counts["killed"],
        counts["equivalent"],
        counts["survived"],
        counts["not_run"],
    )


def write_report(
    all_mutants: list[Mutant],
    results: dict[str, Result],
    equivalent: dict[str, str],
    report_path: Path,
    command: str,
) -> dict:
    """REPORT.md (per-topic table, equivalents with reasons, survivors) and report.json."""
    why = _load_reasons(SURVIVORS_FILE, "why")
    graded = [m for m in all_mutants if m.id in results]
    by_topic: dict[str, list[Mutant]] = {}
    for m in graded:
        by_topic.setdefault(m.topic, []).append(m)
    topics = {}
    for topic, ms in by_topic.items():
        t = tally((results[m.id] for m in ms), equivalent)
        topics[topic] = {**asdict(t), "kill_rate": round(t.kill_rate, 4)}
    total = tally((results[m.id] for m in graded), equivalent)
    survivors = [m for m in graded if results[m.id].status == "survived" and m.id not in equivalent]
    equivalents = [m for m in graded if results[m.id].status == "survived" and m.id in equivalent]
    wrongly_equivalent = [
        m.id for m in graded if m.id in equivalent and results[m.id].status == "killed"
    ]
    data = {
        "command": command,
        "total": {**asdict(total), "kill_rate": round(total.kill_rate, 4)},
        "topics": topics,
        "operators": dict(Counter(m.operator.split(" ")[0] for m in graded)),
        "survivors": [{**_row(m), "why": why.get(m.id, "")} for m in survivors],
        "equivalent": [{**_row(m), "reason": equivalent[m.id]} for m in equivalents],
        "listed_equivalent_but_killed": wrongly_equivalent,
        "not_run": dict(
            Counter(f"{m.topic}/{m.function}" for m in graded if results[m.id].status == "not_run")
        ),
        "grader_faults": [
            {"id": m.id, "check": results[m.id].by, "outcome": results[m.id].outcome}
            for m in graded
            if "grader" in results[m.id].outcome or results[m.id].by == "grader error"
        ],
    }
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    report_path.write_text(_markdown(data), encoding="utf-8")
    return data


def _row(m: Mutant) -> dict:
    return {
        "id": m.id,
        "topic": m.topic,
        "function": m.function,
        "line": m.line,
        "mutation": m.description,
    }


def _markdown(data: dict) -> str:
    out = [
        "# Mutation testing of `solutions/` (graded by the kit's grader)",
        "",
        "Generated by `scripts/mutation_testing.py`; do not edit by hand (triage goes into",
        "`soundness/equivalent.yml` and `soundness/survivors.yml`, then rerun the script).",
        "",
        f"Command: `{data['command']}`",
        "",
        "A mutant is **killed** when the grader gives it fewer points than the reference on its",
        "topic. Kill rate = killed / (killed + survived): equivalent mutants, and those whose",
        "function has only GPU checks on a machine without CUDA (not run), are left out.",
        "",
        "| topic | mutants | killed | equivalent | survived | not run (no GPU) | kill rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for topic, t in data["topics"].items():
        out.append(
            f"| `{topic}` | {t['mutants']} | {t['killed']} | {t['equivalent']} | "
            f"{t['survived']} | {t['not_run']} | {100 * t['kill_rate']:.1f}% |"
        )
    t = data["total"]
    out.append(
        f"| **all** | {t['mutants']} | {t['killed']} | {t['equivalent']} | {t['survived']} | "
        f"{t['not_run']} | {100 * t['kill_rate']:.1f}% |"
    )
    out += ["", f"## Survivors ({len(data['survivors'])})", ""]
    out += [
        "Mutants no check kills and that are not equivalent: input for new checks.",
        "",
        "| topic | function | line | mutation | why it survives | id |",
        "|---|---|---:|---|---|---|",
    ]
    for s in data["survivors"]:
        out.append(
            f"| {s['topic']} | `{s['function']}` | {s['line']} | {_cell(s['mutation'])} | "
            f"{_cell(s['why']) or 'not triaged yet'} | `{s['id']}` |"
        )
    out += ["", f"## Equivalent mutants ({len(data['equivalent'])})", ""]
    out += ["| topic | function | mutation | reason |", "|---|---|---|---|"]
    for s in data["equivalent"]:
        out.append(
            f"| {s['topic']} | `{s['function']}` | {_cell(s['mutation'])} | {_cell(s['reason'])} |"
        )
    if data["not_run"]:
        out += ["", "## Not run here (every check of the function needs a CUDA device)", ""]
        out += ["Rerun on a GPU machine to grade them.", ""]
        out += [f"- `{f}`: {n} mutants" for f, n in data["not_run"].items()]
    if data["grader_faults"]:
        out += ["", "## Killed by a fault of the grader itself (grader bugs to fix)", ""]
        out += [f"- `{g['id']}`: {g['check']} ({g['outcome']})" for g in data["grader_faults"]]
    if data["listed_equivalent_but_killed"]:
        out += ["", "Listed as equivalent but killed (remove from equivalent.yml):", ""]
        out += [f"- `{i}`" for i in data["listed_equivalent_but_killed"]]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- command line -----------------------------------------------------------------------------


def select(all_mutants: list[Mutant], sample: int | None, seed: int) -> list[Mutant]:
    """All mutants, or a seeded sample of ``sample`` of them (the same for the same seed)."""
    if sample is None or sample >= len(all_mutants):
        return list(all_mutants)
    return sorted(random.Random(seed).sample(all_mutants, sample), key=lambda m: m.id)


def all_mutants(topics: Iterable[str]) -> list[Mutant]:
    found = []
    for topic in topics:
        source = (ROOT / "solutions" / f"{topic}.py").read_text(encoding="utf-8")
        found += mutants(topic, source)
    return found


def main(argv: list[str] | None = None) -> int:
    from grader import config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", action="append", help="only this topic (repeatable)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--sample", type=int, help="grade a seeded sample of N mutants")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=CACHE_FILE)
    parser.add_argument("--report", type=Path, help="write the report (e.g. soundness/REPORT.md)")
    parser.add_argument("--list", action="store_true", help="list the mutants, grade nothing")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="report from the cache only (mutants not graded yet are left out)",
    )
    args = parser.parse_args(argv)
    course = config.load(ROOT / "autograder.yml")
    topics = args.topic or list(course.topics)
    found = all_mutants(topics)
    chosen = select(found, args.sample, args.seed)
    if args.list:
        for m in chosen:
            print(f"{m.id}  line {m.line}: {m.description}")
        print(f"{len(chosen)} mutants")
        return 0
    if args.cached_only:
        cache = load_cache(args.cache)
        prints = {t: grader_fingerprint(t) for t in topics}
        results = {}
        for m in chosen:
            hit = cache.get(f"{m.source_hash}:{prints[m.topic]}")
            if hit:
                results[m.id] = Result(**{**hit, "id": m.id})
    else:
        results = run(chosen, args.jobs, args.cache)
    equivalent = load_equivalent()
    total = tally(results.values(), equivalent)
    print(
        f"{total.mutants} mutants: {total.killed} killed, {total.equivalent} equivalent, "
        f"{total.survived} survived; kill rate {100 * total.kill_rate:.1f}%"
    )
    if args.report:
        command = "python scripts/mutation_testing.py " + " ".join(argv or sys.argv[1:])
        write_report(chosen, results, equivalent, args.report, command.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
