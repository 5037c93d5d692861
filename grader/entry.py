"""The ``grader`` command's entry point (``python -m grader`` too): ``grader.cli.main``, and for
``grader check`` first the resident judge, else the worker template started early.

A check goes to the resident judge (``grader.resident``) when one is running: the judge's
imports are done there. Otherwise it runs here, and its worker template is started before the
judge imports anything heavy, so that it gets ready on another core meanwhile; ``grader
check``'s templates are daemons (``grader.sandbox.daemon``), which the student's next check
finds running. This module imports nothing but the light template module; when the course
asks for fresh workers (``start: spawn``) the template is simply not used.
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


INTERRUPTED = 130  # grader.cli.EXIT_INTERRUPTED (not imported: this module stays light)


def main(argv: list[str] | None = None) -> int:
    code = _run(argv)
    if argv is None and code == INTERRUPTED:  # the program itself, not a caller's argv
        _exit_interrupted()
    return code


def _run(argv: list[str] | None) -> int:
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


def _exit_interrupted() -> None:
    """Exit with status 130 once an interrupt was handled: the exit functions run and the
    output is flushed, but not the interpreter's own end. CPython 3.11 remembers a
    KeyboardInterrupt that landed inside ``exec`` of a string (a dataclass being made, say)
    even when it was caught, and then ends the process by SIGINT (status -2) instead of the
    status the command returned; seen in CI with a Dask cluster closing. A further SIGINT or
    SIGTERM is ignored meanwhile: the stop is already under way."""
    import atexit
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is not None:
        run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(INTERRUPTED)
