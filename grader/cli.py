"""Command line: ``grader check``, ``grader grade``, ``grader validate``, ``grader checks``,
``grader stats``, ``grader report``, ``grader release``, ``grader export``. Parsing only; the
work happens in ``grader.pipeline``, ``grader.batch``, ``grader.validate``, ``grader.release``,
``grader.exporters``, ``grader.reports.checklist``, ``grader.reports.stats`` and
``grader.reports.html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__, config, executors, i18n, interrupts, registry
from grader.batch import Interrupted
from grader.executors import ExecutorError
from grader.layouts.kit import LayoutError
from grader.release import DataProblem, ReleaseRefused
from grader.sandbox import process

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # as shells report a command stopped by SIGINT


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grader",
        description="Autograder for the deep-learning "
        "course kit (trusted judge, sandboxed worker).",
    )
    p.add_argument("--version", action="version", version=f"grader {__version__}")
    p.add_argument("--config", type=Path, help="path to autograder.yml (default: search upward)")
    lang = argparse.ArgumentParser(add_help=False)  # --lang before or after the command
    for parser, default in ((p, None), (lang, argparse.SUPPRESS)):
        parser.add_argument(
            "--lang",
            choices=i18n.LANGUAGES,
            default=default,
            help=f"language of student-facing text (default: ${i18n.ENV}, else en)",
        )
    sub = p.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", parents=[lang], help="run the public checks on your own work")
    check.add_argument(
        "topics",
        nargs="*",
        metavar="TOPIC",
        help="topics (default: all; for a CS231n tree, those it maps onto); a folder or .zip "
        "given here is the submission",
    )
    check.add_argument(
        "--submission",
        type=Path,
        help="folder with your modules (default: the course's assignments/)",
    )
    check.add_argument(
        "--layout",
        choices=("auto", "kit", "cs231n"),
        default="auto",
        help="kit modules or a CS231n tree (auto: a tree when there is a cs231n/ folder)",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="only the closing summary")

    grade = sub.add_parser(
        "grade", parents=[lang], help="grade submissions (folders, zips, or folders of them)"
    )
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    grade.add_argument("--out", type=Path, required=True, help="output folder")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    grade.add_argument("--layout", choices=("auto", "kit", "cs231n"), default="auto")
    grade.add_argument(
        "--topic",
        action="append",
        dest="topics",
        metavar="T",
        help="grade only this topic (repeatable); merged into existing results in --out",
    )
    grade.add_argument(
        "--force", action="store_true", help="regrade what the output folder's journal has"
    )
    grade.add_argument(
        "--executor",
        choices=("threads", "processes", "local", "dask", "dask-local"),
        help="where the gradings run: --jobs judge processes (the default with --jobs > 1), "
        "threads of this process (the default with --jobs 1, also 'local'), a Dask cluster "
        "(with --scheduler) or --jobs local Dask workers",
    )
    grade.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler for --executor dask (tcp://...)"
    )

    validate = sub.add_parser(
        "validate", parents=[lang], help="solutions earn every point, stubs earn zero, APIs match"
    )
    validate.add_argument(
        "--release",
        type=Path,
        metavar="DIR",
        help="validate a student release built by grader release: its stubs earn zero, the "
        "solutions earn every public point from its data, the data is not stale",
    )

    release = sub.add_parser(
        "release", parents=[lang], help="build the student kit (no solutions) and its zip"
    )
    release.add_argument("--out", type=Path, required=True, help="the kit folder (DIR and DIR.zip)")
    release.add_argument(
        "--topic", action="append", dest="topics", metavar="T", help="only this topic (repeatable)"
    )
    release.add_argument(
        "--no-validate",
        action="store_true",
        help="skip grader validate of the tree first (the solutions must still pass every "
        "public check)",
    )

    checks = sub.add_parser(
        "checks", parents=[lang], help="list every check id with kind, points, visibility"
    )
    checks.add_argument("topics", nargs="*", metavar="TOPIC", help="topics (default: all)")
    checks.add_argument("--json", action="store_true", help="one JSON list, for programs")
    stats = sub.add_parser(
        "stats", parents=[lang], help="the class view of a graded batch (an output of grade)"
    )
    stats.add_argument("out", type=Path, metavar="OUT", help="output folder of grader grade")
    stats.add_argument("--top", type=int, default=10, help="checks shown, failed most first")
    report = sub.add_parser(
        "report",
        parents=[lang],
        help="HTML pages with plots for a graded batch: the class, and each student's feedback",
    )
    report.add_argument("out", type=Path, metavar="OUT", help="output folder of grader grade")
    _export_parser(sub, lang)
    return p


def _export_parser(sub, lang: argparse.ArgumentParser) -> None:
    export = sub.add_parser(
        "export",
        parents=[lang],
        help="the course as a platform's autograder (gradescope, nbgrader)",
    )
    targets = export.add_subparsers(dest="target", required=True)
    gradescope = targets.add_parser(
        "gradescope", help="autograder.zip: setup.sh, run_autograder and the course files"
    )
    gradescope.add_argument("--out", type=Path, required=True, help="the zip to write")
    gradescope.add_argument(
        "--topic", action="append", dest="topics", metavar="T", help="only this topic (repeatable)"
    )
    nbg = targets.add_parser(
        "nbgrader", help="an nbgrader course: source notebooks whose grade cells call the judge"
    )
    nbg.add_argument("--course", type=Path, required=True, help="the course folder to write")
    nbg.add_argument(
        "--topic", action="append", dest="topics", metavar="T", help="only this topic (repeatable)"
    )
    otter = targets.add_parser("otter", help="DIR/<topic>/autograder.zip for otter-grader")
    otter.add_argument("--out", type=Path, required=True, help="the folder to write")
    otter.add_argument(
        "--topic", action="append", dest="topics", metavar="T", help="only this topic (repeatable)"
    )


def _topics(course: config.Course, names: list[str] | None) -> tuple[str, ...]:
    if not names:
        return course.topics
    unknown = [n for n in names if n not in course.topics]
    if unknown:
        raise config.ConfigError(
            f"unknown topic(s) {', '.join(unknown)}; this course has: {', '.join(course.topics)}"
        )
    return tuple(names)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # `grader check --layout cs231n PATH`: argparse ends a `*` positional at the first option
    if extra and (args.command != "check" or any(e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.topics += extra
    if args.lang:
        i18n.set_language(args.lang)
    from grader.reports import terminal  # rich is imported only when output is needed

    # SIGTERM stops like Ctrl-C; orphans of the workers come back here to be killed
    interrupts.install()
    process.become_subreaper()
    if args.command == "stats":  # reads an output folder: no course needed
        return _stats(args, terminal)
    if args.command == "report":
        return _report(args, terminal)
    try:
        # with --topic, only those topics are loaded up front (grader validate loads all)
        by_topic = ("check", "grade", "release", "export")
        chosen = getattr(args, "topics", None) if args.command in by_topic else None
        course = config.load(args.config, topics=chosen or None)
        if args.command == "check":
            return _check(course, args, terminal)
        if args.command == "grade":
            return _grade(course, args, terminal)
        if args.command == "checks":
            return _checks(course, args, terminal)
        if args.command == "release":
            return _release(course, args, terminal)
        if args.command == "export":
            return _export(course, args, terminal)
        if args.release is not None:
            return _validate_release(course, args.release, terminal)
        return _validate(course, terminal)
    except (
        config.ConfigError,
        LayoutError,
        registry.UnknownTopic,
        ExecutorError,
        DataProblem,
        ReleaseRefused,
    ) as exc:
        terminal.error(str(exc))
        return EXIT_USAGE
    except Interrupted as stop:
        terminal.error(
            f"interrupted: {stop.done} of {stop.total} graded, rerun the same command to resume"
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        process.stop_all()
        terminal.error("interrupted")
        return EXIT_INTERRUPTED


def _check(course, args, terminal) -> int:
    from grader.layouts import cs231n, select
    from grader.pipeline import grade_submission
    from grader.reports import student_view
    from grader.scratch import run_folder, user_base

    names = [t for t in args.topics if t in course.topics or not Path(t).exists()]
    paths = [Path(t) for t in args.topics if t not in names]
    if len(paths) + bool(args.submission) > 1:
        raise LayoutError("give one submission (a folder or a .zip), as PATH or --submission")
    folder = args.submission or (paths[0] if paths else course.assignments_dir)
    if not (folder.is_dir() or (folder.suffix == ".zip" and folder.is_file())):
        raise LayoutError(f"{folder} is not a folder or a .zip file")
    layout = args.layout
    if layout == "auto":
        layout = "cs231n" if select.is_cs231n(folder) else "kit"
    topics = _topics(course, names)
    if layout == "cs231n" and not names:  # only what a CS231n tree can hold
        topics = tuple(t for t in topics if t in cs231n.MAPPING)
    with run_folder(user_base()) as scratch:  # gone at the next run if this one is killed
        sub = select.submission(folder, topics, scratch, layout)
        with terminal.working(i18n.tr("checking")) as step:
            report = grade_submission(course, sub, topics, only_public=True, on_topic=step)
    hidden = student_view.hidden_checks(course, topics)
    terminal.check_report(report, hidden, quiet=args.quiet)
    return EXIT_OK if all(r.passed for r in report.results if r.counts) else EXIT_FAILED


def _grade(course, args, terminal) -> int:
    from grader.batch import grade_batch

    topics = _topics(course, args.topics)
    with terminal.batch_progress() as on_done:
        reports = grade_batch(
            course,
            args.paths,
            args.out,
            topics,
            args.jobs,
            on_done,
            force=args.force,
            layout=args.layout,
            executor=args.executor or executors.cli_default_kind(args.jobs),
            scheduler=args.scheduler,
        )
    terminal.batch_table(reports, topics)
    terminal.info(
        f"wrote {len(reports)} results to {args.out}/<student>/results.json, "
        f"feedback.md, and {args.out}/gradebook.csv"
    )
    return EXIT_OK


def _checks(course, args, terminal) -> int:
    from grader.reports import checklist

    topics = _topics(course, args.topics)
    rows = checklist.listing(course, topics)
    if args.json:
        print(checklist.as_json(rows))
    else:
        checklist.render(terminal.console, topics, rows)
    return EXIT_OK


def _validate(course, terminal) -> int:
    from grader.validate import validate

    with terminal.working("validating") as step:
        result = validate(course, course.topics, on_step=step)
    terminal.validation(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def _release(course, args, terminal) -> int:
    from grader.release.build import build

    topics = _topics(course, args.topics)
    with terminal.working("building the release") as step:
        built = build(course, args.out, topics, check_tree=not args.no_validate, on_step=step)
    zipped = built.zip_path.stat().st_size
    terminal.info(
        f"wrote {built.folder} ({built.size() / 1e6:.1f} MB) and {built.zip_path} "
        f"({zipped / 1e6:.1f} MB) in {built.seconds:.0f} s: {len(topics)} topics"
    )
    for check, why in built.excluded.items():
        terminal.info(f"left out of the release: {check} ({why})")
    return EXIT_OK


def _export(course, args, terminal) -> int:
    from grader.exporters import gradescope

    topics = _topics(course, args.topics)
    if args.target == "nbgrader":
        from grader.exporters import nbgrader

        made_nbg = nbgrader.export(course, args.config or config.find_config(), args.course, topics)
        terminal.info(
            f"wrote {made_nbg.course_dir}: nbgrader_config.py and {len(made_nbg.notebooks)} "
            "source notebooks; run nbgrader generate_assignment there"
        )
        return EXIT_OK
    if args.target == "otter":
        from grader.exporters import otter

        made_otter = otter.export(course, args.config or config.find_config(), args.out, topics)
        terminal.info(
            f"wrote {len(made_otter.zips)} otter autograders (autograder.zip, and"
            f" master/<topic>.ipynb for otter assign) under {args.out}"
        )
        return EXIT_OK
    made = gradescope.export(course, args.config or config.find_config(), args.out, topics)
    terminal.info(
        f"wrote {made.zip_path} ({made.zip_path.stat().st_size / 1e6:.1f} MB, "
        f"{len(made.members)} files): {len(topics)} topics; upload it as the autograder"
    )
    if course.secret == "public":
        terminal.info(
            f"warning: no course secret is set (${course.config.secret_env} or "
            f"{course.config.secret_file}): the zip grades with the public one, so students "
            "can compute the hidden checks' inputs"
        )
    return EXIT_OK


def _validate_release(course, folder: Path, terminal) -> int:
    from grader.validate import validate_release

    with terminal.working("validating the release") as step:
        problems = validate_release(course, folder, on_step=step)
    for problem in problems:
        terminal.error(problem)
    if not problems:
        terminal.info(f"{folder}: the release is consistent with this tree")
    return EXIT_OK if not problems else EXIT_FAILED


def _stats(args, terminal) -> int:
    from grader.reports import stats

    try:
        view = stats.load(args.out)
    except stats.StatsError as exc:
        terminal.error(str(exc))
        return EXIT_USAGE
    stats.render(view, terminal.console, top=args.top)
    return EXIT_OK


def _report(args, terminal) -> int:
    from grader.reports import charts, html, stats

    try:
        written = html.write(args.out)
    except (stats.StatsError, charts.ChartsUnavailable) as exc:
        terminal.error(str(exc))
        return EXIT_USAGE
    terminal.info(
        f"wrote {written.report} and {len(written.feedback)} feedback.html in "
        f"{written.seconds:.1f} s"
    )
    if written.without:
        terminal.info(
            "no journal.json or feedback.md, so no feedback.html: " + ", ".join(written.without)
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
