"""The message catalogue behind ``grader.i18n``: extract, merge, compile and check (Babel).

Run from a checkout (Babel comes with the ``test`` extra; grading itself needs only the
standard library's ``gettext``)::

    python -m grader.translations update   # new message ids into every .po, obsolete ones out
    python -m grader.translations compile  # .po -> .mo (commit both)
    python -m grader.translations check    # what a test also checks: nothing missing or stale

The message ids are:
- every literal passed to ``tr(...)`` or ``N_(...)`` in the grader package;
- the name and the hint of every known mistake of every topic (``MISCONCEPTIONS``);
- every outcome (``grader.checks.base.Outcome``'s values: ``wrong``, ``not_implemented``...).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from grader import i18n, registry
from grader.checks.base import Outcome

PACKAGE = Path(__file__).resolve().parent
KEYWORDS = {"tr": None, "N_": None}
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def _from_code() -> Iterator[tuple[str, str]]:
    """(message id, where) for each ``tr``/``N_`` literal of the package."""
    method_map = [("**.py", "python")]
    found = extract_from_dir(PACKAGE, method_map, keywords=KEYWORDS, comment_tags=())
    for filename, _line, message, _comments, _context in found:
        if isinstance(message, str) and message:
            yield message, f"grader/{filename}"  # no line: the .po stays as code moves


def _from_topics() -> Iterator[tuple[str, str]]:
    for spec in registry.topics():
        for mistake in spec.misconceptions:
            yield mistake.name, f"topic {spec.name}: name of a known mistake"
            yield mistake.hint, f"topic {spec.name}: hint of {mistake.name!r}"


def template() -> Catalog:
    """Every message id the kit shows a student, with where it comes from."""
    catalog = Catalog(domain=i18n.DOMAIN, project="grader", fuzzy=False)
    found = [*_from_code(), *_from_topics(), *((o.value, "an outcome") for o in Outcome)]
    for message, where in found:
        existing = catalog.get(message)
        if existing is None:
            added = catalog.add(message, auto_comments=[where])
            added.flags.discard("python-format")  # "90% of" is text: the kit formats with {}
        elif where not in existing.auto_comments:
            existing.auto_comments.append(where)
    return catalog


def po_path(lang: str) -> Path:
    return i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=i18n.DOMAIN, project="grader", fuzzy=False)
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=i18n.DOMAIN)


def _mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def update(lang: str) -> Path:
    """Merge the current message ids into ``lang``'s .po (kept translations stay; obsolete ids
    go; a new id gets an empty translation for a translator to fill in)."""
    catalog = read(lang)
    catalog.update(template(), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    for message in catalog:
        message.flags.discard("python-format")
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=False, include_previous=False)
    return path


def compile_mo(lang: str) -> Path:
    path = po_path(lang).with_suffix(".mo")
    path.write_bytes(_mo_bytes(read(lang)))
    return path


def problems(lang: str) -> list[str]:
    """What stops ``lang`` from being complete: a message id without a translation, a
    translation whose ``{placeholders}`` differ from its id's, a translation of an id that is
    no longer used, and a .mo that is not the compiled .po."""
    catalog, wanted = read(lang), template()
    found = []
    for message in wanted:
        if not message.id:
            continue
        have = catalog.get(message.id)
        if have is None or not have.string:
            found.append(f"no {lang} translation of {message.id!r} ({message.auto_comments[0]})")
        elif have.fuzzy:
            found.append(f"the {lang} translation of {message.id!r} is marked fuzzy")
        elif sorted(PLACEHOLDER.findall(have.string)) != sorted(PLACEHOLDER.findall(message.id)):
            found.append(f"the {lang} translation of {message.id!r} changes its placeholders")
    unused = [m.id for m in catalog if m.id and wanted.get(m.id) is None]
    found += [f"{lang} translation of an unused message id {m!r}" for m in unused]
    mo = po_path(lang).with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != _mo_bytes(catalog):
        found.append(f"{mo} is not the compiled {po_path(lang).name}: run compile")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.translations", description=__doc__)
    parser.add_argument("action", choices=("update", "compile", "check"))
    args = parser.parse_args(argv)
    langs = [lang for lang in i18n.LANGUAGES if lang != "en"]
    if args.action == "update":
        for lang in langs:
            print(f"updated {update(lang)}")
        return 0
    if args.action == "compile":
        for lang in langs:
            print(f"compiled {compile_mo(lang)}")
        return 0
    found = [p for lang in langs for p in problems(lang)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
