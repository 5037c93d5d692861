"""The ``grader`` entry point finds the subcommand without argparse (to start early)."""

from __future__ import annotations

import pytest

from grader.entry import command


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "losses"], "check"),
        (["--config", "course/autograder.yml", "check"], "check"),
        (["--lang", "zh", "grade", "subs", "--out", "o"], "grade"),
        (["--config=autograder.yml", "check", "-q"], "check"),
        (["check", "--help"], None),
        (["-h"], None),
        (["--version"], None),
        (["--lang", "check"], None),  # "check" is --lang's value here, no command follows
        ([], None),
    ],
)
def test_the_subcommand_is_found_as_argparse_finds_it(argv, expected):
    assert command(argv) == expected
