"""autograder.yml: validated on load, errors name the key, rules resolve points and visibility."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from grader import config, registry

BASE = """
topics:
  losses:
    default_points: 1
    rules:
      - match: "losses/*: hidden:*"
        visibility: after_due_date
      - match: "losses/softmax_loss_vectorized: *"
        points: 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "autograder.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_rules_give_points_and_visibility(tmp_path):
    course = config.load(write(tmp_path, BASE))
    plans = {p.check_id: p for p in course.plans["losses"]}
    assert plans["losses/softmax_loss_vectorized: random N=8 D=5 C=4 reg=0.1"].points == 3
    assert plans["losses/svm_loss_naive: random N=8 D=5 C=4 reg=0.1"].points == 1
    hidden = [p for p in plans.values() if p.visibility == "after_due_date"]
    assert hidden and all(": hidden:" in p.check_id for p in hidden)
    # later rules override earlier ones; both apply to this check
    assert plans["losses/softmax_loss_vectorized: hidden: N=64 D=40 C=10 reg=0.05"].points == 3


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            BASE.replace("visibility: after_due_date", "visibilty: hidden"),
            "topics.losses.rules[0].visibilty: unknown key (did you mean 'visibility'?)",
        ),
        (
            BASE.replace("default_points: 1", "default_points: -1"),
            "topics.losses.default_points: Input should be greater than or equal to 0",
        ),
        (
            BASE.replace("visibility: after_due_date", "visibility: secret"),
            "topics.losses.rules[0].visibility: Input should be 'hidden', 'after_due_date', "
            "'after_published' or 'visible'",
        ),
        (
            BASE + "limits:\n  call_timeout: 3\n",
            "limits.call_timeout: unknown key (did you mean 'call_timeout_s'?)",
        ),
        (BASE + "mutation: maybe\n", "mutation: Input should be 'warn' or 'fail'"),
        (
            BASE.replace("        points: 3\n", ""),
            "topics.losses.rules[1]: Value error, a rule must set points or visibility",
        ),
        (
            BASE.replace("losses/softmax", "losses/sofmax"),
            "topics.losses.rules[1].match: 'losses/sofmax_loss_vectorized: *' matches no check",
        ),
        (
            BASE.replace("  losses:", "  loses:").replace('"losses/', '"loses/'),
            "topics.loses: no topic 'loses' (did you mean 'losses'?): a topic is a module "
            "grader/topics/loses.py or a package grader/topics/loses/",
        ),
        ("topics: [1, 2]", "topics: Input should be a valid dictionary"),
        ("course: [unclosed", "is not valid YAML"),
        ("- a list", "expected a mapping at the top level"),
    ],
)
def test_errors_name_the_key(tmp_path, text, expected):
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, text))
    assert expected in str(info.value)


def test_missing_config_says_what_to_do(tmp_path):
    with pytest.raises(config.ConfigError, match="--config"):
        config.find_config(tmp_path)


def test_secret_comes_from_env_then_file(tmp_path, monkeypatch):
    path = write(tmp_path, BASE)
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    assert config.load(path).secret == "public"
    (tmp_path / ".grader-secret").write_text("from-file\n")
    assert config.load(path).secret == "from-file"
    monkeypatch.setenv("GRADER_SECRET", "from-env")
    assert config.load(path).secret == "from-env"


def test_the_shipped_config_is_valid(course):
    assert set(course.topics) == set(registry.available())
    assert all(p.points > 0 for plans in course.plans.values() for p in plans)


@pytest.mark.parametrize(
    "rules",
    [
        "[]",  # no rule at all
        '[{match: "losses/*", visibility: visible}]',  # a rule that would show everything
    ],
)
def test_declared_hidden_checks_stay_hidden_whatever_the_rules(tmp_path, rules):
    course = config.load(write(tmp_path, f"topics:\n  losses:\n    rules: {rules}\n"))
    spec = registry.topic("losses")
    declared = {c.id for c in spec.checks if c.hidden}
    assert declared and all(": hidden: " in cid for cid in declared)
    plans = {p.check_id: p.visibility for p in course.plans["losses"]}
    assert {cid for cid, v in plans.items() if v != "visible"} == declared
    assert {plans[cid] for cid in declared} == {"hidden"}


def test_speed_settings_are_validated_with_the_key_named(tmp_path):
    text = "topics:\n  conv:\n    speed:\n      repets: 3\n"
    with pytest.raises(config.ConfigError, match=r"topics\.conv\.speed\.repets: unknown key "):
        config.load(write(tmp_path, text))
    course = config.load(write(tmp_path, "topics:\n  conv:\n    speed: {min_ratio: 7}\n"))
    assert course.config.topics["conv"].speed.min_ratio == 7


def line_of(text: str, fragment: str, nth: int = 0) -> int:
    """The 1-based line of the ``nth`` line of ``text`` (dedented) that contains ``fragment``."""
    lines = [i for i, ln in enumerate(textwrap.dedent(text).splitlines(), 1) if fragment in ln]
    return lines[nth]


SECOND_RULES_BLOCK = BASE + (
    "    rules:\n"  # a second rules: block under topics.losses, meant to add to the first
    '      - match: "losses/svm_loss_naive: *"\n'
    "        points: 2\n"
)


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        (BASE + "mutation: warn\nmutation: fail\n", "mutation", "mutation:"),
        (SECOND_RULES_BLOCK, "topics.losses.rules", "rules:"),
        (
            BASE.replace("        points: 3\n", "        points: 3\n        points: 4\n"),
            "topics.losses.rules[1].points",
            "        points:",
        ),
        (
            "limits:\n  memory_mb: 2048\n  cpu_s: 10\n  memory_mb: 512\n" + BASE,
            "limits.memory_mb",
            "memory_mb:",
        ),
    ],
    ids=["top level", "second rules block of a topic", "inside a rule", "inside limits"],
)
def test_duplicate_keys_are_errors_naming_both_lines(tmp_path, text, key, fragment):
    # pyyaml alone accepts every one of these, keeping the last value
    assert isinstance(yaml.safe_load(textwrap.dedent(text)), dict)
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, text))
    first, second = line_of(text, fragment, 0), line_of(text, fragment, 1)
    assert first < second
    assert f"{key}: duplicate key (lines {first} and {second})" in str(info.value)


def test_every_duplicate_is_reported_in_file_order(tmp_path):
    text = SECOND_RULES_BLOCK + "mutation: warn\nmutation: fail\n"
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, text))
    found = [ln.strip() for ln in str(info.value).splitlines()[1:]]
    assert [ln.split(":")[0] for ln in found] == ["topics.losses.rules", "mutation"]


@pytest.mark.parametrize(
    "text",
    [
        # the same key in two different mappings
        "topics:\n  losses:\n    default_points: 1\n  conv:\n    default_points: 1\n",
        # a merge key is YAML's way to override: not a duplicate
        "topics:\n  losses: &base\n    default_points: 2\n  conv:\n    <<: *base\n"
        "    default_points: 3\n",
    ],
    ids=["same key in two mappings", "merge key"],
)
def test_keys_repeated_in_other_mappings_are_not_duplicates(tmp_path, text):
    config.load(write(tmp_path, text))
