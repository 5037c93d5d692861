"""Student-facing text in Chinese as well as English (``grader.i18n``).

The catalogue is complete (every message id of the kit has a Chinese translation with the same
placeholders, and the committed .mo is the compiled .po), and bob's Chinese feedback names the
same mistakes as his English one, in Chinese, with the same scores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import topic_files

from grader import i18n
from grader.batch import grade_batch
from grader.reports import feedback, gradescope

pytest.importorskip("babel")
from grader import translations  # noqa: E402  (needs Babel)

BOB = topic_files.examples() / "bob"
TOPICS = ("losses", "backprop")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def zh(monkeypatch):
    # GRADER_LANG, which set_language also writes, back as it was after the test (monkeypatch
    # restores what it first saw); the process's choice back to none, not to "en", which would
    # outvote every later test's GRADER_LANG
    monkeypatch.setenv(i18n.ENV, "zh")
    i18n.set_language("zh")
    yield
    i18n.set_language(None)


@pytest.fixture(scope="module")
def bob(fast_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("bob")
    (report,) = grade_batch(fast_course, [BOB], out, topics=TOPICS)
    return report


def test_every_message_id_has_a_chinese_translation_and_the_mo_is_compiled():
    assert translations.problems("zh") == []


def test_the_catalogue_holds_every_known_mistake_and_outcome():
    ids = {m.id for m in translations.template()}
    from grader import registry

    names = {m.name for spec in registry.topics() for m in spec.misconceptions}
    assert names and names <= ids
    assert {"wrong", "not_implemented", "timeout"} <= ids


def test_a_missing_translation_is_found(monkeypatch):
    # the completeness check can fail: a new message id without a translation is named
    real = translations.template

    def with_new_id():
        catalog = real()
        catalog.add("a message nobody translated", auto_comments=["a test"])
        return catalog

    monkeypatch.setattr(translations, "template", with_new_id)
    assert any("a message nobody translated" in p for p in translations.problems("zh"))


@pytest.mark.parametrize("spelling", ["zh", "zh_CN", "zh-CN", "ZH_cn.UTF-8", "zh-Hans"])
def test_chinese_spellings(spelling):
    assert i18n.normalise(spelling) == "zh"


def test_unknown_language_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown language 'fr'.*en, zh"):
        i18n.normalise("fr")


def test_a_stray_environment_language_falls_back_to_english(monkeypatch):
    monkeypatch.setenv(i18n.ENV, "klingon")
    assert i18n.language() == "en"
    assert i18n.tr("PASS") == "PASS"


def test_environment_chooses_chinese(monkeypatch):
    monkeypatch.setenv(i18n.ENV, "zh_CN")
    assert i18n.language() == "zh"
    assert i18n.tr("PASS") != "PASS" and CJK.search(i18n.tr("PASS"))


def test_a_known_mistake_line_is_translated_and_the_rest_kept(zh):
    name = "no max-shift before exp"
    hint = "subtract the row maximum from x before np.exp; exp(1000) overflows"
    text = "softmax_loss(x, y): loss differs from the reference.\n  " + i18n.mistake_line(
        name, hint
    )
    first, second = i18n.message(text).split("\n")
    assert first == "softmax_loss(x, y): loss differs from the reference."
    assert second.startswith("  ")
    assert i18n.tr(name) in second and i18n.tr(hint) in second
    assert "looks like a known mistake" not in second


def test_bob_in_chinese_names_the_same_mistakes(bob, zh):
    english = {
        r.misconception for r in bob.results if r.misconception and r.visibility == "visible"
    }
    assert english, "bob's bugs are known mistakes"
    text = feedback.render(bob)
    assert "# " + i18n.tr("Feedback for {student}").format(student="bob") in text
    for topic, section in zip(TOPICS, text.split("## ")[1:], strict=True):
        assert section.startswith(topic)
        spotted = next(
            ln
            for ln in section.splitlines()
            if ln.startswith(i18n.tr("Known mistakes spotted: {names}.")[:4])
        )
        mine = {
            r.misconception
            for r in bob.results
            if r.topic == topic and r.misconception and r.visibility == "visible" and not r.passed
        }
        for name in mine:
            assert i18n.tr(name) != name, f"{name!r} has no Chinese name"
            assert i18n.tr(name) in spotted
    # the same scores, and results.json keeps the English names (the ids gradebooks count by)
    data = gradescope.results_json(bob)
    assert data["score"] == bob.score
    named = {t["extra_data"].get("misconception") for t in data["tests"]} - {None}
    assert named == english
    outputs = [t["output"] for t in data["tests"] if t["extra_data"].get("misconception")]
    assert all("looks like a known mistake" not in o for o in outputs)
    assert any(CJK.search(o) for o in outputs)


def test_english_is_unchanged_by_the_catalogue(bob):
    text = feedback.render(bob)
    assert text.startswith("# Feedback for bob\n")
    assert not CJK.search(text)


def test_grader_check_speaks_chinese_with_lang_zh(tmp_path):
    env_free = {k: v for k, v in __import__("os").environ.items() if k != i18n.ENV}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "check",
            "losses",
            "--lang",
            "zh",
            "--submission",
            str(BOB),
        ],
        capture_output=True,
        text=True,
        env={**env_free, "COLUMNS": "120"},
        cwd=Path(topic_files.examples()).parent.parent,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # bob's losses fail
    out = proc.stdout
    assert i18n.normalise("zh") == "zh"
    zh_catalogue = translations.read("zh")
    assert zh_catalogue.get("summary").string in out
    assert zh_catalogue.get("no max-shift before exp").string in out
    assert "looks like a known mistake" not in out
