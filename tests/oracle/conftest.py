"""Fixtures for the oracle tests: the reference solutions, imported by file path.

The reference modules are loaded from ``solutions/<topic>.py`` (not through sys.path), so the
tests check exactly the files the stubs are generated from. Fixtures are session-scoped because
hypothesis refuses function-scoped fixtures in @given tests.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


def load_solution(topic: str) -> ModuleType:
    """Import ``solutions/<topic>.py`` under the private name ``reference_<topic>``."""
    path = SOLUTIONS_DIR / f"{topic}.py"
    spec = importlib.util.spec_from_file_location(f"reference_{topic}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the reference solution {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def losses_ref() -> ModuleType:
    return load_solution("losses")


@pytest.fixture(scope="session")
def backprop_ref() -> ModuleType:
    return load_solution("backprop")


def _assert_close(actual: object, expected: object, rtol: float = 1e-10, what: str = "") -> None:
    """Elementwise |actual - expected| <= rtol * max(1, max|expected|), shapes equal, float64.

    The absolute floor scales with the largest expected entry: entries that cancel to nearly 0
    (a gradient summed over examples) carry rounding error of the size of the largest terms,
    not of their own size.
    """
    actual_arr = np.asarray(actual)
    expected_arr = np.asarray(expected, dtype=np.float64)
    assert actual_arr.shape == expected_arr.shape, (
        f"{what}: shape {actual_arr.shape}, expected {expected_arr.shape}"
    )
    assert actual_arr.dtype == np.float64, f"{what}: dtype {actual_arr.dtype}, expected float64"
    scale = max(1.0, float(np.max(np.abs(expected_arr), initial=0.0)))
    np.testing.assert_allclose(actual_arr, expected_arr, rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.fixture(scope="session")
def assert_close() -> Callable[..., None]:
    """The comparison every oracle test uses (see _assert_close)."""
    return _assert_close
