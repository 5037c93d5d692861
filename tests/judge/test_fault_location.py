"""An exception in student code names the student's own file and line (never the grader's)."""

from __future__ import annotations

from pathlib import Path

from grader.judge.student import _fault_from_error, student_frames
from grader.layouts.kit import submission
from grader.pipeline import grade_submission
from grader.reports import feedback

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "submissions"

STUDENT = "/tmp/sub/losses.py"
TRACEBACK = f'''Traceback (most recent call last):
  File "{STUDENT}", line 8, in svm_loss_naive
    1/0
    ~^~
ZeroDivisionError: division by zero

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/grader/worker/calls.py", line 155, in call
    result = func(*args, **kwargs)
             ^^^^^^^^^^^^^^^^^^^^^
  File "{STUDENT}", line 10, in svm_loss_naive
    return helper(W)
           ^^^^^^^^^
  File "{STUDENT}", line 4, in helper
    return np.reshape(x, (7, 7))
  File "/usr/lib/numpy/_core/fromnumeric.py", line 54, in _wrapfunc
    return bound(*args, **kwds)
ValueError: cannot reshape array of size 4 into shape (7,7)
'''


def test_only_the_student_frames_of_the_last_exception_innermost_last():
    assert student_frames(TRACEBACK, STUDENT) == [
        "at losses.py:10 in svm_loss_naive: return helper(W)",
        "at losses.py:4 in helper: return np.reshape(x, (7, 7))",
    ]
    # a file of the same name elsewhere is not the student's
    assert student_frames(TRACEBACK, "/elsewhere/losses.py") == []


def test_the_reason_says_where_and_the_staff_part_keeps_the_whole_traceback():
    error = {
        "kind": "exception",
        "type": "ValueError",
        "message": "cannot reshape",
        "traceback": TRACEBACK,
    }
    fault = _fault_from_error(error, "svm_loss_naive", STUDENT)
    first, *where = fault.reason.splitlines()
    assert first == "svm_loss_naive raised ValueError: cannot reshape"
    assert where == [
        "  at losses.py:10 in svm_loss_naive: return helper(W)",
        "  at losses.py:4 in helper: return np.reshape(x, (7, 7))",
    ]
    assert "calls.py" not in fault.reason and "fromnumeric" not in fault.reason
    assert "/opt/grader/worker/calls.py" in fault.staff


def test_a_syntax_error_frame_has_no_function():
    tb = (
        'Traceback (most recent call last):\n  File "/g/calls.py", line 120, in load\n'
        f'    exec(code)\n  File "{STUDENT}", line 6\n    def f(x)\n            ^\n'
        "SyntaxError: expected ':'\n"
    )
    assert student_frames(tb, STUDENT) == ["at losses.py:6: def f(x)"]


def test_only_the_innermost_frames_of_a_deep_recursion():
    frame = f'  File "{STUDENT}", line 3, in f\n    return f(n - 1)\n'
    tb = "Traceback (most recent call last):\n" + frame * 50 + "RecursionError: too deep\n"
    assert student_frames(tb, STUDENT) == ["at losses.py:3 in f: return f(n - 1)"] * 3


def test_a_real_exception_reports_the_line_in_check_and_feedback(fast_course, tmp_path):
    source = EXAMPLES / "raises" / "losses.py"
    line = next(
        i for i, text in enumerate(source.read_text().splitlines(), 1) if "raise ValueError" in text
    )
    sub = submission(source.parent, ("losses",), tmp_path)
    report = grade_submission(fast_course, sub, ("losses",), only_public=True)
    raised = [r for r in report.results if r.outcome.value == "exception"]
    assert raised
    where = (
        f'  at losses.py:{line} in svm_loss_vectorized: raise ValueError("shapes do not line up")'
    )
    for r in raised:
        assert r.message.splitlines()[1:] == [where]
        assert "grader" not in r.message
        assert "grader/worker" in r.staff
    assert where.strip() in feedback.render(report)
