"""The ``grader`` command's entry point (``python -m grader`` too): ``grader.cli.main``, with the
worker template of ``grader check`` started first.

The judge's imports (numpy, pydantic, the registry) take a few tenths of a second, and so does
the template's start (an interpreter importing numpy and the worker's modules). Started here,
before the judge imports anything heavy, the template gets ready on another core while the judge
imports, instead of after; and ``grader check``'s templates are daemons
(``grader.sandbox.daemon``), which the student's next check finds running. This module imports
nothing but the light template module; when the course later asks for fresh workers (``start:
spawn``) the template is simply not used.
"""

from __future__ import annotations

import sys

from grader.sandbox import template

VALUED = ("--config", "--lang")  # the top-level options that take a value


def command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (None without one, or when help is asked for)."""
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help", "--version"):
            return None
        if word in VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return None if {"-h", "--help"} & set(argv) else word
    return None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if command(words) == "check" and template.available():
        from grader import resident
        from grader.sandbox import daemon

        if daemon.enabled() and (code := resident.run(words)) is not None:
            return code
        template.use_daemons()  # left running for the student's next check (GRADER_DAEMON)
        template.warm((), template.scrubbed_env(), template.START_TIMEOUT_S)
    from grader.cli import main as cli_main

    return cli_main(argv)
