"""Student-facing text in English or Chinese, from one gettext catalogue.

The message ids are the English texts. ``grader/locale/zh/LC_MESSAGES/grader.po`` holds the
Chinese, compiled into ``grader.mo`` beside it (both committed; ``python scripts/i18n.py``
extracts, merges and compiles with Babel, and a test fails when the ``.mo`` is stale or a
message id lacks a translation). At run time only the standard library's ``gettext`` reads
the ``.mo``.

What is translated: the frame of ``feedback.md``, ``results.json`` outputs, ``grader check``
and the notebook check cells (headings, outcome labels, counts), and the names and hints of
known mistakes. What is not: check ids, function names, numbers and the comparison details of a
message (shapes, errors, indices), which read the same in both languages.

Messages are composed in English by the judge (``results.json``'s ``misconception`` field and
the staff log keep the English name, the stable id a gradebook counts by) and translated where
they are shown: ``message`` turns each known-mistake line, written by ``mistake_line``, into the
chosen language. The language comes from ``set_language`` (``--lang``) or ``GRADER_LANG``
(``en`` by default; ``zh``, ``zh_CN`` and ``zh-CN`` mean Chinese).
"""

from __future__ import annotations

import gettext
import os
import re
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")
ENV = "GRADER_LANG"
DOMAIN = "grader"
LOCALE_DIR = Path(__file__).with_name("locale")

_chosen: str | None = None


def normalise(lang: str) -> str:
    """``zh``, ``zh_CN``, ``zh-Hans``... -> ``zh``; ``en_US`` -> ``en``; raise ``ValueError``
    for a language the kit has no catalogue for."""
    base = re.split(r"[-_.@]", lang.strip().lower(), maxsplit=1)[0]
    if base not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return base


def set_language(lang: str | None) -> None:
    """Choose the language of this process (``None``: back to ``GRADER_LANG``). It is also put
    into the environment, so judge processes started for a batch speak it too."""
    global _chosen
    _chosen = normalise(lang) if lang else None
    if _chosen:
        os.environ[ENV] = _chosen


def language() -> str:
    if _chosen:
        return _chosen
    try:
        return normalise(os.environ.get(ENV) or "en")
    except ValueError:
        return "en"  # a stray GRADER_LANG never stops grading


@cache
def _catalogue(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def tr(text: str) -> str:
    """``text`` (an English message id) in the chosen language; itself when untranslated."""
    return _catalogue(language()).gettext(text) if text else text


def N_(text: str) -> str:
    """Marks ``text`` as a message id without translating it (translated later, by ``tr``)."""
    return text


# -- known mistakes inside composed messages --------------------------------------------------

MISTAKE_LINE = N_("looks like a known mistake: {name}. Hint: {hint}")
_MISTAKE = re.compile(
    r"^(?P<lead>\s*)looks like a known mistake: (?P<name>.+?)\. Hint: (?P<hint>.*)$"
)


def mistake_line(name: str, hint: str) -> str:
    """The English line that names a known mistake in a check's message (``message``
    translates it where it is shown)."""
    return MISTAKE_LINE.format(name=name, hint=hint)


def _mistake(match: re.Match[str]) -> str:
    return match["lead"] + tr(MISTAKE_LINE).format(name=tr(match["name"]), hint=tr(match["hint"]))


def message(text: str) -> str:
    """A check's message as the student reads it: its known-mistake lines translated (the
    rest, numbers and names, reads the same in every language)."""
    if language() == "en" or not text:
        return text
    return "\n".join(_MISTAKE.sub(_mistake, line) for line in text.split("\n"))


def outcome(value: str) -> str:
    """An outcome's value (``wrong``, ``not_implemented``...) as the student reads it: the
    value itself in English (``grader.checks.base.Outcome``'s values are message ids too)."""
    return tr(value)
