"""The parallel checks catch realistic bugs: each mutant of solutions/parallel.py loses points on
the function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics.parallel import mistakes as m


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("parallel", function, old, new, misconception)


SPLIT = "return np.array_split(X, K), np.array_split(y, K)"
RS = "buf[(k + 1) % K][c] = buf[(k + 1) % K][c] + data"

MUTANTS = [
    # named mistakes
    mutant(
        m.SPLIT,
        SPLIT,
        "s = len(X) // K\n    return ([X[k * s:(k + 1) * s] for k in range(K)], "
        "[y[k * s:(k + 1) * s] for k in range(K)])",
        m.UNEVEN_DROPPED,
    ),
    mutant(
        m.SPLIT,
        SPLIT,
        "s = len(X) // K\n    b = [k * s for k in range(K)] + [len(X)]\n"
        "    return ([X[b[k]:b[k + 1]] for k in range(K)], [y[b[k]:b[k + 1]] for k in range(K)])",
        m.REMAINDER_LAST,
    ),
    mutant(
        m.GRADS,
        "softmax_loss(W, Xk, yk)[1] for",
        "softmax_loss(W, Xk, yk)[1] * len(yk) for",
        m.SUMMED,
    ),
    mutant(m.DATA, "g.ravel() * (n / N)", "g.ravel()", m.SUMMED),
    mutant(m.DATA, "g.ravel() * (n / N)", "g.ravel() * n", m.SUMMED),
    mutant(m.DATA, "g.ravel() * (n / N)", "g.ravel() / K", m.UNWEIGHTED),
    mutant(m.RING, "for s in range(K - 1):  # all-gather", "for s in range(0):", m.REDUCE_ONLY),
    mutant(m.RING, "return buf", "return [[c / K for c in w] for w in buf]", m.AVERAGED),
    mutant(m.BYTES, "2.0 * (K - 1) / K * size_bytes", "(K - 1) / K * size_bytes", m.ONE_PHASE),
    mutant(m.BYTES, "2.0 * (K - 1) / K * size_bytes", "2.0 * (K - 1) * size_bytes", m.WHOLE_BUFFER),
    mutant(
        m.BACKWARD,
        "dh = dout @ W2.T",
        "dh = np.zeros((dout.shape[0], W2.shape[0]))",
        m.NO_CROSS_GRADIENT,
    ),
    mutant(m.LOADER, "if prefetch == 0:", "if True:", m.NO_PREFETCH),
    mutant(
        m.LOADER,
        "max(loaded, taken[i - prefetch]) if i >= prefetch else loaded",
        "loaded",
        m.UNBOUNDED,
    ),
    mutant(
        m.LOADER,
        "return np.diff(done, prepend=0.0)",
        "return np.diff(done, prepend=0.0) if prefetch == 0 else np.maximum(load, compute)",
        m.FIRST_LOAD_FREE,
    ),
    # other realistic bugs
    mutant(m.SPLIT, SPLIT, "return np.array_split(X, K), np.array_split(y[::-1], K)"),
    mutant(m.GRADS, "dtype=np.int64", "dtype=np.float64"),
    mutant(m.RING, "sent = [(k, (k - s) % K", "sent = [(k, (k + s) % K"),
    mutant(
        m.RING, "buf[(k + 1) % K][c] = data", "buf[(k + 1) % K][c] = buf[(k + 1) % K][c] + data"
    ),
    mutant(m.RING, RS, "buf[(k + 1) % K][c] = data"),
    mutant(m.BYTES, "2.0 * (K - 1) / K * size_bytes", "2.0 * size_bytes / K"),
    mutant(m.DATA, "N = counts.sum()", "N = len(counts)"),
    mutant(m.FORWARD, "h = np.maximum(a, 0.0)", "h = a"),
    mutant(m.FORWARD, "return out, h, (x, W1, a, sent, W2)", "return out, a, (x, W1, a, sent, W2)"),
    mutant(m.BACKWARD, "da = dh * (a > 0)", "da = dh"),
    mutant(m.BACKWARD, "db2 = dout.sum(axis=0)", "db2 = dout.mean(axis=0)"),
    mutant(m.BACKWARD, "dx = da @ W1.T", "dx = dh @ W1.T"),
    mutant(m.LOADER, "taken[i] = max(put[i], last_done)", "taken[i] = put[i]"),
    # the first compute may start only at 1 ms: shows with loads under 1 ms
    mutant(m.LOADER, "loader_free, last_done = 0.0, 0.0", "loader_free, last_done = 0.0, 1.0"),
]


def _callers(function: str) -> set[str]:
    """Functions that call ``function`` in the reference (a bug there shows in them too)."""
    return {
        m.SPLIT: {m.GRADS, m.DATA},
        m.GRADS: {m.DATA},
        m.RING: {m.DATA},
        m.FORWARD: {m.BACKWARD},
    }.get(function, set())


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, _callers(mutant.function))


def test_every_misconception_has_a_named_mutant():
    from grader.topics import parallel

    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in parallel.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"
