"""Topic ``parallel``: data parallelism (batch split, per-worker gradients, ring all-reduce and
its bytes), model parallelism (a two-layer net over two devices) and a prefetching loader.

Declarations only. Beside this module: ``inputs`` (input makers), ``mistakes`` (the known
mistakes and their models) and ``model`` (the split net's backward and gradient checks, and
inputs left unchanged when they are lists of arrays). Conventions (solutions/parallel.py):
np.array_split chunks, each worker's gradient the mean over its chunk, the full-batch mean as
the sum of the worker means weighted by n_k / N, a SUM all-reduce on a pinned ring (worker k
sends to k + 1; reduce-scatter sends chunk (k - s) % K at step s, the all-gather (k + 1 - s) %
K), 2 (K - 1) / K of the buffer sent per worker, and the loader as a discrete-event simulation
(the kit's virtual clock is one host clock that ``time.sleep`` advances, so threads sleeping on
it cannot overlap): one loader thread, a queue of ``prefetch`` batches.
"""

from __future__ import annotations

from grader.checks.anchor import degenerate
from grader.checks.base import Check, Kind
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.topics.parallel import inputs as make
from grader.topics.parallel import model
from grader.topics.parallel.mistakes import (
    BACKWARD,
    BYTES,
    DATA,
    FORWARD,
    GRADS,
    LOADER,
    MISCONCEPTIONS,
    RING,
    SPLIT,
)

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "parallel"
SUMMARY = (
    "np.array_split chunks, n_k / N-weighted worker gradients, a step-by-step ring all-reduce "
    "(sum, pinned ring) and its bytes, a net split over two devices, a prefetching loader "
    "simulated as discrete events"
)
WORKER_SETUP = ""
FUNCTIONS = (SPLIT, GRADS, RING, BYTES, DATA, FORWARD, BACKWARD, LOADER)
OUTPUTS = {
    SPLIT: ("X_chunks", "y_chunks"),
    GRADS: ("grads", "counts"),
    RING: ("buffers",),
    BYTES: ("sent",),
    DATA: ("dW",),
    FORWARD: model.OUT,
    LOADER: ("times",),
}
TOL = 1e-7


def _references(function: str, cases: list[tuple[str, make.Make, bool]]) -> list[Check]:
    return [
        Reference(TOPIC, function, name, m, OUTPUTS[function], tol=TOL, hidden=hidden)
        for name, m, hidden in cases
    ]


def _hygiene(function: str, m: make.Make) -> list[Check]:
    return [
        NoMutation(TOPIC, function, "inputs unchanged", m, OUTPUTS[function]),
        Deterministic(TOPIC, function, "deterministic", m, OUTPUTS[function]),
    ]


def _data_checks() -> list[Check]:
    found: list[Check] = [
        Property(TOPIC, SPLIT, name, model.split_matches(m), hidden=hidden, kind=Kind.REFERENCE)
        for name, m, hidden in [
            ("N=12, K=4 (even)", make.batch(12, 3, 4), False),
            ("N=10, K=4 (uneven)", make.batch(10, 3, 4), False),
            ("N=7, K=3, X (7, 2, 3)", make.batch(7, 2, 3, trailing=(3,)), False),
            ("N=5, K=1", make.batch(5, 2, 1), False),
            ("batch of 1, K=1", make.batch(1, 4, 1), False),
            ("N=3, K=5 (empty chunks)", make.batch(3, 2, 5), False),
            ("N=23, K=6", make.batch(23, 4, 6), True),
            ("N=101, K=8", make.batch(101, 3, 8), True),
        ]
    ]
    found += _hygiene(SPLIT, make.batch(10, 3, 4))
    found += _references(
        GRADS,
        [
            ("N=12, K=3 (even)", make.batch(12, 5, 3, C=4), False),
            ("N=10, K=4 (uneven)", make.batch(10, 4, 4, C=3), False),
            ("N=6, K=1", make.batch(6, 3, 1, C=5), False),
            ("N=3, K=5 (empty chunks: zeros)", make.batch(3, 4, 5, C=3), False),
            ("N=29, K=6", make.batch(29, 7, 6, C=4), True),
        ],
    )
    found += _hygiene(GRADS, make.batch(10, 4, 4, C=3))
    found += _references(
        RING,
        [
            ("K=2, chunks (3,)", make.ring(2), False),
            ("K=3, chunks (4,)", make.ring(3, m=4), False),
            ("K=4, uneven chunks (np.array_split of 13)", make.uneven_ring(4), False),
            ("K=3, 2-D chunks", make.ring(3, ((2, 3), (2, 3), (1, 3))), False),
            ("K=1 (nothing sent)", make.ring(1), False),
            ("K=5, uneven chunks", make.uneven_ring(5), True),
            ("K=8, chunks (6,)", make.ring(8, m=6), True),
        ],
    )
    found += [
        Property(TOPIC, RING, "inputs unchanged", model.lists_unchanged(RING, make.ring(4))),
        Deterministic(TOPIC, RING, "deterministic", make.ring(3), OUTPUTS[RING]),
    ]
    found += _references(
        BYTES,
        [
            ("1e6 bytes, K=4", make.scalars(1e6, 4), False),
            ("1000 bytes, K=2", make.scalars(1000.0, 2), False),
            ("12345 bytes, K=7", make.scalars(12345.0, 7), False),
            ("K=1 (nothing sent)", make.scalars(5000.0, 1), False),
            ("2**20 bytes, K=16", make.scalars(float(2**20), 16), True),
        ],
    )
    found.append(Deterministic(TOPIC, BYTES, "deterministic", make.scalars(1e6, 8), ("sent",)))
    found += _references(
        DATA,
        [
            ("N=12, K=3 (even)", make.batch(12, 5, 3, C=4), False),
            ("N=10, K=4 (uneven)", make.batch(10, 4, 4, C=3), False),
            ("N=13, K=5 (uneven)", make.batch(13, 6, 5, C=3), False),
            ("N=7, K=1", make.batch(7, 3, 1, C=4), False),
            ("N=50, K=7", make.batch(50, 8, 7, C=5), True),
            ("N=17, K=4", make.batch(17, 3, 4, C=6), True),
        ],
    )
    found += _hygiene(DATA, make.batch(10, 4, 4, C=3))
    return degenerate(found, "N=5, K=1", "batch of 1, K=1", "1000 bytes, K=2", "K=1 (nothing sent)")


def _model_checks() -> list[Check]:
    cases = [
        ("N=4, D=5, H=6, C=3", make.two_layer(4, 5, 6, 3), False),
        ("batch of 1", make.two_layer(1, 3, 4, 2), False),
        ("N=7, D=2, H=9, C=5", make.two_layer(7, 2, 9, 5), False),
        ("N=20, D=12, H=16, C=10", make.two_layer(20, 12, 16, 10), True),
    ]
    found = _references(FORWARD, cases)
    found += _hygiene(FORWARD, make.two_layer(4, 5, 6, 3))
    for name, m, hidden in cases:
        found.append(
            Property(
                TOPIC,
                BACKWARD,
                name,
                model.backward_reference(m),
                hidden=hidden,
                kind=Kind.REFERENCE,
            )
        )
    found += [
        Property(
            TOPIC,
            BACKWARD,
            "numeric gradient, elementwise",
            model.backward_gradient(make.two_layer(3, 4, 5, 2)),
            kind=Kind.GRADIENT,
        ),
        Property(
            TOPIC,
            BACKWARD,
            "numeric gradient, directional",
            model.backward_gradient(make.two_layer(16, 10, 12, 6), "directional"),
            kind=Kind.GRADIENT,
        ),
    ]
    return found


def _loader_checks() -> list[Check]:
    found = _references(
        LOADER,
        [
            ("no prefetch: load + compute (10, 5 ms)", make.loader(10.0, 5.0, 6, 0), False),
            ("prefetch 1, loading slower (10, 5 ms)", make.loader(10.0, 5.0, 6, 1), False),
            ("prefetch 1, compute slower (5, 10 ms)", make.loader(5.0, 10.0, 6, 1), False),
            ("prefetch 3, compute slower (4, 9 ms)", make.loader(4.0, 9.0, 8, 3), False),
            ("one step", make.loader(7.0, 3.0, 1, 2), False),
            ("prefetch 1, one slow batch", make.loader(None, 10.0, 8, 1, slow=4), False),
            ("prefetch 2, one slow batch", make.loader(None, 10.0, 8, 2, slow=4), False),
            ("prefetch 2, random times", make.loader(None, None, 12, 2), True),
            ("prefetch 0, random times", make.loader(None, None, 9, 0), True),
            ("prefetch 4, random loads", make.loader(None, 8.0, 20, 4), True),
            # the clock starts at 0: a first load under 1 ms, or none at all, shows it
            ("prefetch 2, sub-millisecond loads (0.25, 6 ms)", make.loader(0.25, 6.0, 6, 2), False),
            ("prefetch 1, loads take 0 ms", make.loader(0.0, 4.0, 5, 1), False),
            ("no prefetch, compute takes 0 ms", make.loader(3.0, 0.0, 4, 0), False),
        ],
    )
    found += _hygiene(LOADER, make.loader(None, None, 10, 2))
    # every step takes the one nonzero time: a constant that a trivial function may return
    return degenerate(found, "prefetch 1, loads take 0 ms", "no prefetch, compute takes 0 ms")


def checks() -> list[Check]:
    return _data_checks() + _model_checks() + _loader_checks()
