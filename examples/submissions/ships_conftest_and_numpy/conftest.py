"""A conftest.py shipped with a submission: the grader must never load it.

If pytest ever collected this folder, every test would fail.
"""

import pytest


@pytest.fixture(autouse=True)
def _sabotage():
    pytest.fail("the submission's conftest.py was loaded: extra files must be ignored")
