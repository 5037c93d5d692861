"""``autograder.yml`` -> a frozen, validated course configuration.

Validation errors name the key path (``topics.losses.rules[1].visibilty``) and, for a misspelt
key, the closest valid one. A key given twice in one mapping, anywhere, is an error naming the
lines of both (pyyaml would silently keep the second: a second ``rules:`` block would replace
the first). Rules are matched against check ids from the registry, and a rule that matches no
check is an error, so a misspelt pattern is caught; a pattern that matches other checks than the
ones meant is not (``grader checks`` lists every id to write rules against). A check its
declaration marks hidden stays out of students' sight whatever the rules say: a rule may only
move it to another level that is not ``visible``.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader import registry
from grader.checks.base import SpeedSettings

CONFIG_NAME = "autograder.yml"
Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]


class ConfigError(Exception):
    """autograder.yml is missing or invalid; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    call_timeout_s: float = Field(10.0, gt=0, le=3600)
    import_timeout_s: float = Field(5.0, gt=0, le=600)
    memory_mb: int = Field(1024, ge=256, le=65536)
    cpu_s: int = Field(300, ge=1, le=86400)
    output_kb: int = Field(64, ge=1, le=65536)
    file_size_mb: int = Field(16, ge=1, le=4096)
    open_files: int = Field(64, ge=16, le=4096)
    processes: int = Field(64, ge=1, le=4096)


class Rule(_Strict):
    match: str = Field(min_length=1)
    points: float | None = Field(None, ge=0)
    visibility: Visibility | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Rule:
        if self.points is None and self.visibility is None:
            raise ValueError("a rule must set points or visibility (or both)")
        return self


class LimitOverrides(_Strict):
    """Per-topic changes to the course limits (for example more memory for a CUDA context)."""

    call_timeout_s: float | None = Field(None, gt=0, le=3600)
    import_timeout_s: float | None = Field(None, gt=0, le=600)
    memory_mb: int | None = Field(None, ge=256, le=65536)
    cpu_s: int | None = Field(None, ge=1, le=86400)


class TopicConfig(_Strict):
    default_points: float = Field(1.0, ge=0)
    visibility: Visibility = "visible"
    rules: tuple[Rule, ...] = ()
    speed: SpeedSettings = SpeedSettings()
    limits: LimitOverrides = LimitOverrides()


class CourseConfig(_Strict):
    course: str = "Deep learning course kit"
    secret_env: str = "GRADER_SECRET"
    secret_file: str | None = ".grader-secret"
    solutions: str = "solutions"
    assignments: str = "assignments"
    isolation: Literal["auto", "process"] = "auto"
    mutation: Literal["warn", "fail"] = "warn"
    gpu_checks_count_without_gpu: bool = False
    limits: Limits = Limits()
    topics: dict[str, TopicConfig]


@dataclass(frozen=True)
class CheckPlan:
    """One check as the course grades it."""

    check_id: str
    points: float
    visibility: str


@dataclass(frozen=True)
class Course:
    root: Path
    config: CourseConfig
    secret: str
    secret_path: Path | None
    plans: Mapping[str, tuple[CheckPlan, ...]]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self.plans)

    @property
    def solutions_dir(self) -> Path:
        return self.root / self.config.solutions

    @property
    def assignments_dir(self) -> Path:
        return self.root / self.config.assignments


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type | None:
    model: Any = CourseConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if model is CourseConfig and part == "topics":
            model = dict
            continue
        if model is dict:
            model = TopicConfig
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = Rule if part == "rules" else field.annotation
    return model if isinstance(model, type) and _field_names(model) else None


def _field_names(model: type) -> list[str]:
    """The keys a section of autograder.yml may have (a pydantic model or a dataclass)."""
    if issubclass(model, BaseModel):
        return sorted(model.model_fields)
    if dataclasses.is_dataclass(model):
        return sorted(f.name for f in dataclasses.fields(model))
    return []


def _explain(exc: ValidationError, source: str) -> str:
    lines = [f"{source} is invalid:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = _loc(loc)
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            model = _model_at(loc)
            valid = _field_names(model) if model else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"  {where}: unknown key{hint}; valid keys: {', '.join(valid)}")
        else:
            got = err.get("input")
            lines.append(f"  {where}: {err['msg']} (got {got!r:.60})")
    return "\n".join(lines)


def _topic_plans(name: str, tcfg: Any) -> tuple[tuple[CheckPlan, ...], list[str]]:
    """The plans of one topic and the problems of its block (an unknown topic, a dead rule)."""
    try:
        spec = registry.topic(name)
    except registry.UnknownTopic as exc:
        return (), [f"  topics.{name}: {exc}"]
    problems = []
    ids = [c.id for c in spec.checks]
    for i, rule in enumerate(tcfg.rules):
        if not any(fnmatch.fnmatchcase(cid, rule.match) for cid in ids):
            problems.append(
                f"  topics.{name}.rules[{i}].match: {rule.match!r} matches no "
                f"check of topic {name} (ids look like {ids[0]!r})"
            )
    topic_plans = []
    for check in spec.checks:
        points, visibility = tcfg.default_points, tcfg.visibility
        for rule in tcfg.rules:  # later rules override earlier ones
            if fnmatch.fnmatchcase(check.id, rule.match):
                points = rule.points if rule.points is not None else points
                visibility = rule.visibility or visibility
        if check.hidden and visibility == "visible":  # declared hidden: never shown
            visibility = "hidden"
        topic_plans.append(CheckPlan(check.id, float(points), visibility))
    return tuple(topic_plans), problems


class Plans(Mapping[str, tuple[CheckPlan, ...]]):
    """Topic -> its check plans, in course order. The topics of ``eager`` are planned (and
    their blocks checked) at once; the others when first asked for, so that ``--topic losses``
    does not import every topic module. A problem raises ``ConfigError`` either way."""

    def __init__(self, cfg: CourseConfig, source: str, eager: Sequence[str] | None) -> None:
        self._cfg, self._source = cfg, source
        self._names = tuple(cfg.topics)
        self._done: dict[str, tuple[CheckPlan, ...]] = {}
        wanted = self._names if eager is None else [t for t in eager if t in cfg.topics]
        problems = []
        unknown = [t for t in self._names if t not in registry.available()]
        for name in [*wanted, *(u for u in unknown if u not in wanted)]:
            plans, found = _topic_plans(name, cfg.topics[name])
            problems += found
            self._done[name] = plans
        if problems:
            raise ConfigError(f"{source} is invalid:\n" + "\n".join(problems))

    def __getitem__(self, name: str) -> tuple[CheckPlan, ...]:
        if name not in self._done:
            if name not in self._cfg.topics:
                raise KeyError(name)
            plans, problems = _topic_plans(name, self._cfg.topics[name])
            if problems:
                raise ConfigError(f"{self._source} is invalid:\n" + "\n".join(problems))
            self._done[name] = plans
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# libyaml's parser where pyyaml was built with it: the same documents, read about ten times
# faster (every ``grader check`` reads autograder.yml)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """pyyaml's SafeLoader, except that a key given twice in one mapping is an error (SafeLoader
    keeps the last value silently: a second ``rules:`` block would replace the first)."""

    def construct_document(self, node: yaml.Node) -> Any:
        found = sorted(_duplicate_keys(self, node, "", set()))
        if found:
            raise _DuplicateKeys([text for _, text in found])
        return super().construct_document(node)


class _DuplicateKeys(yaml.YAMLError):
    def __init__(self, found: list[str]) -> None:
        super().__init__("; ".join(found))
        self.found = found


def _and(items: list[int]) -> str:
    words = [str(n) for n in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _duplicate_keys(
    loader: yaml.SafeLoader, node: yaml.Node, path: str, seen: set[int]
) -> list[tuple[int, str]]:
    """(line, ``"<key path>: duplicate key (lines a and b)"``) for every key given twice in one
    mapping anywhere under ``node``. Merge keys (``<<: *base``) are YAML's own way to override
    and are left alone."""
    if id(node) in seen:  # an alias of a node already walked (or of itself)
        return []
    seen.add(id(node))
    found = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[Any, list[int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            try:
                key = loader.construct_object(key_node, deep=True)
                hash(key)
            except (yaml.YAMLError, TypeError):  # an unhashable key: pyyaml reports it later
                continue
            lines.setdefault(key, []).append(key_node.start_mark.line + 1)
            found += _duplicate_keys(
                loader, value_node, f"{path}.{key}" if path else str(key), seen
            )
        for key, at in lines.items():
            if len(at) > 1:
                name = f"{path}.{key}" if path else str(key)
                found.append((at[0], f"{name}: duplicate key (lines {_and(at)})"))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(loader, item, f"{path}[{i}]", seen)
    return found


def find_config(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    raise ConfigError(
        f"no {CONFIG_NAME} found in {here} or its parents; run from the course "
        "folder or pass --config PATH"
    )


def load(path: Path | None = None, topics: Sequence[str] | None = None) -> Course:
    """The course of ``path`` (found from the working folder when None). Every topic block is
    checked now unless ``topics`` names the ones about to be used (the others are checked when
    first used)."""
    path = path or find_config()
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except _DuplicateKeys as exc:
        found = "".join(f"\n  {line}" for line in exc.found)
        raise ConfigError(f"{path} is invalid:{found}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        cfg = CourseConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, str(path))) from None
    root = path.resolve().parent
    secret_path = root / cfg.secret_file if cfg.secret_file else None
    secret = os.environ.get(cfg.secret_env, "")
    if not secret and secret_path and secret_path.is_file():
        secret = secret_path.read_text(encoding="utf-8").strip()
    return Course(root, cfg, secret or "public", secret_path, Plans(cfg, str(path), topics))
