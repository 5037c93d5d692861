"""cuda_timing arithmetic against PyTorch: FLOPs counted by torch's FlopCounterMode and bytes by
the tensors themselves; timing_stats against torch's statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_solution
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

REF = load_solution("cuda_timing")
sizes = st.integers(1, 48)
DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


@given(sizes, sizes, sizes)
def test_matmul_flops_match_torch_flop_counter(m, n, k):
    a, b = torch.ones(m, k), torch.ones(k, n)
    with FlopCounterMode(display=False) as counter:
        torch.mm(a, b)
    assert REF.matmul_flops(m, n, k) == counter.get_total_flops()


@given(sizes, sizes, sizes, st.sampled_from(DTYPES))
def test_matmul_bytes_match_the_tensors(m, n, k, dtype):
    a, b = torch.empty(m, k, dtype=dtype), torch.empty(k, n, dtype=dtype)
    c = torch.mm(a.float(), b.float()).to(dtype)
    nbytes = sum(t.nelement() * t.element_size() for t in (a, b, c))
    assert REF.matmul_bytes(m, n, k, a.element_size()) == nbytes


@given(st.lists(st.floats(0.001, 1e4), min_size=1, max_size=40))
def test_timing_stats_match_torch(values):
    t = torch.tensor(values, dtype=torch.float64)
    got = REF.timing_stats(np.array(values))
    # torch.median returns the lower middle value; np.median (the convention) averages the two
    assert got["median_ms"] == pytest.approx(float(torch.quantile(t, 0.5)), rel=1e-12)
    assert got["mean_ms"] == pytest.approx(float(t.mean()), rel=1e-12)
    assert got["min_ms"] == float(t.min()) and got["max_ms"] == float(t.max())
    assert got["times_ms"].dtype == np.float64 and got["times_ms"].shape == (len(values),)
