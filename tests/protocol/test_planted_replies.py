"""A submission that writes its own reply frames: each malformed reply ends one check as
``bad_output`` (the worker is replaced), and every other check is still graded."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.batch import grade_batch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "submissions"

# In the worker: find the reply descriptor on the worker's own stack and write a frame there
# before the worker writes its own (what a student can do: the worker is their process).
FORGE = """
def _forge(kind):
    import os, sys
    frame = sys._getframe()
    while frame is not None and "rep_fd" not in frame.f_locals:
        frame = frame.f_back
    head = {
        "deep": b'{"ok": true, "value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "digits": b'{"ok": true, "value": {"t": "int", "v": ' + b"7" * 5000 + b"}}",
        "long": b'{"ok": true, "value": {"t": "str", "v": "' + b"x" * 50_000 + b'"}}',
        # numbered as the request is: read as its reply; the worker's own reply after it is
        # then an earlier one, skipped at the next request
        "numbered": b'{"ok": true, "value": {"t": "str", "v": "' + b"x" * 50_000 + b'"}, '
        + b'"id": %d}' % frame.f_locals["header"]["id"],
    }[kind]
    data = len(head).to_bytes(4, "big") + head
    while data:
        data = data[os.write(frame.f_locals["rep_fd"], data) :]
"""


@pytest.mark.parametrize("kind", ["deep", "digits", "long", "numbered"])
def test_a_forged_reply_is_bad_output_for_its_check_only(fast_course, tmp_path, kind):
    source = (EXAMPLES / "os_exit" / "losses.py").read_text()
    assert "    os._exit(0)\n" in source
    planted = tmp_path / "submissions" / f"forges_{kind}"
    planted.mkdir(parents=True)
    (planted / "losses.py").write_text(
        source.replace("    os._exit(0)\n", f"    _forge({kind!r})\n") + FORGE
    )
    (report,) = grade_batch(fast_course, [planted.parent], tmp_path / "out", topics=("losses",))
    by_function: dict[str, set[str]] = {}
    for result in report.results:
        by_function.setdefault(result.function, set()).add(result.outcome.value)
    softmax = [r for r in report.results if r.function == "softmax_loss_vectorized"]
    assert softmax and all(r.outcome.value == "bad_output" for r in softmax), [
        (r.outcome.value, r.message[:300]) for r in softmax if r.outcome.value != "bad_output"
    ]
    assert all("grader" not in r.message.lower() or "itself" not in r.message for r in softmax)
    # the functions graded before and after it: untouched by the forged frames
    for function in ("svm_loss_vectorized", "l2_regularization"):
        assert by_function[function] == {"passed"}, (function, by_function)
