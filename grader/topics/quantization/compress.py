"""Topic ``quantization``, part three: pruning, weight sharing (k-means) and Deep Compression's
storage arithmetic.

Declarations only; ``grader.topics.quantization`` gathers these checks and mistakes. Masks and
assignments are compared exactly; sizes are integers compared exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

import numpy as np

from grader.checks.base import PASS, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation, diagnose
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.outputs import describe_call
from grader.checks.property import Property, expect_close, student_outputs
from grader.checks.reference import Reference, param_names, reference_outputs
from grader.judge import numgrad
from grader.judge.compare import gradient_error
from grader.topics.quantization.affine import Shape, observation

PRUNED = ("pruned_w", "mask")
SHARED = ("w_shared", "centroids", "assignments")
DC = ("dcentroids",)
SIZE = ("size",)

SIGNED_PRUNE = "pruning by signed value instead of magnitude"
K_TRUNCATED = "number of pruned weights truncated instead of rounded"
RANDOM_INIT = "k-means with random instead of linear initialisation"
CENTROID_MEAN = "mean instead of sum of the gradients in each cluster"
NO_FILLER = "filler entries for gaps longer than 2**index_bits not counted"
AT_THRESHOLD_KEPT = "a weight exactly at the threshold kept (|w| >= threshold)"


# -- inputs ------------------------------------------------------------------------------------
def weights(shape: Shape, *extra: float) -> Make:
    """Distinct magnitudes (no ties), then the extra arguments."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            w = rng.standard_normal(shape)
            if len(np.unique(np.abs(w))) == w.size:
                return (w, *extra)
        raise RuntimeError("could not draw weights with distinct magnitudes")

    return make


def tied_weights(shape: Shape, sparsity: float) -> Make:
    """Few magnitudes, both signs: the tie policy (lower flat index first) decides."""

    def make(rng: np.random.Generator) -> tuple:
        w = rng.choice([0.5, 1.0, 2.0], shape) * rng.choice([-1.0, 1.0], shape)
        return w, sparsity

    return make


def near_threshold(n: int, quality: float) -> Make:
    """One weight halfway between quality * std(w) (ddof=0, the convention) and the ddof=1
    threshold, found by fixed-point iteration (w[0] moves std(w) only a little)."""

    def make(rng: np.random.Generator) -> tuple:
        w = rng.standard_normal(n)
        for _ in range(50):
            w[0] = quality * (np.std(w) + np.std(w, ddof=1)) / 2
        return w, quality

    return make


def at_threshold(n: int) -> Make:
    """Weights and a quality for which one |w[j]| equals quality * np.std(w) exactly (in
    float64): the docstring prunes a weight at the threshold."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            w = rng.standard_normal(n)
            j = int(rng.integers(n))
            quality = float(abs(w[j]) / np.std(w))
            if quality * np.std(w) == abs(w[j]):
                return w, quality
        raise RuntimeError("could not place a weight exactly at the threshold")

    return make


def _threshold_keeps_ties(ref: ModuleType, w: np.ndarray, quality: float) -> tuple:
    mask = np.abs(w) >= quality * np.std(w)
    return np.where(mask, w, 0.0), mask


def masked(shape: Shape, keep: float) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        w = rng.standard_normal(shape)
        return w, rng.random(shape) < keep

    return make


def kmeans_case(shape: Shape, bits: int, iters: int, bimodal: bool = False) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        w = rng.standard_normal(shape) * 0.1
        if bimodal:  # two far groups: the middle linear centroids get no weights
            w = w + np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        return w, bits, iters

    return make


def assignment_case(shape: Shape, k: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal(shape), rng.integers(0, k - 1, shape), k  # k-1: one empty

    return make


def mask_case(shape: Shape, keep: float, bits: int, index_bits: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return rng.random(shape) < keep, bits, index_bits

    return make


def fixed_mask(values: Sequence[int], bits: int, index_bits: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return np.array(values, dtype=bool), bits, index_bits

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _prune_signed(ref: ModuleType, w: np.ndarray, sparsity: float) -> tuple:
    k = int(round(sparsity * w.size))
    order = np.argsort(w, axis=None, kind="stable")
    mask = np.ones(w.size, dtype=bool)
    mask[order[:k]] = False
    mask = mask.reshape(w.shape)
    return np.where(mask, w, 0.0), mask


def _prune_truncated(ref: ModuleType, w: np.ndarray, sparsity: float) -> tuple:
    k = int(sparsity * w.size)
    return ref.magnitude_prune(w, k / w.size)


def _centroid_mean(ref: ModuleType, dw: np.ndarray, assignments: np.ndarray, k: int) -> np.ndarray:
    total = ref.centroid_gradient(dw, assignments, k)
    counts = np.bincount(assignments.reshape(-1), minlength=k)
    return total / np.maximum(counts, 1)


def _size_without_fillers(ref: ModuleType, mask: np.ndarray, bits: int, index_bits: int) -> int:
    return int(np.count_nonzero(mask)) * (bits + index_bits) + 32 * 2**bits


def _not_replayable(ref: ModuleType, *args: Any) -> NoReturn:
    """A random initialisation cannot be replayed judge-side; ``_linear_init`` names it from
    the centroids themselves."""
    raise ValueError("random initialisation cannot be modelled")


MISCONCEPTIONS = (
    Misconception(
        "threshold_prune",
        AT_THRESHOLD_KEPT,
        "keep a weight only when |w| > threshold: the docstring prunes a weight exactly at "
        "quality * std(w)",
        _threshold_keeps_ties,
    ),
    Misconception(
        "magnitude_prune",
        SIGNED_PRUNE,
        "rank the weights by np.abs(w): a large negative weight matters as much as a large "
        "positive one",
        _prune_signed,
    ),
    Misconception(
        "magnitude_prune",
        K_TRUNCATED,
        "prune k = round(sparsity * w.size) weights; int() truncates 18.6 to 18",
        _prune_truncated,
    ),
    Misconception(
        "kmeans_quantize",
        RANDOM_INIT,
        "start from np.linspace(w.min(), w.max(), 2**bits): Deep Compression's linear "
        "initialisation keeps centroids at the rare large weights, which matter most",
        _not_replayable,
    ),
    Misconception(
        "centroid_gradient",
        CENTROID_MEAN,
        "every weight of a cluster IS the centroid, so their gradients add up: use the sum",
        _centroid_mean,
    ),
    Misconception(
        "compressed_size_bits",
        NO_FILLER,
        "a gap d between kept weights needs ceil(d / 2**index_bits) entries (filler zeros)",
        _size_without_fillers,
    ),
)


# -- properties --------------------------------------------------------------------------------
def _exact_sparsity(ctx: Context) -> Verdict:
    """Exactly round(sparsity * size) weights pruned, and every kept |w| >= every pruned |w|."""
    w, sparsity = weights((7, 9), 0.7)(ctx.rng)
    args = (w, sparsity)
    got = student_outputs(ctx, "magnitude_prune", args, PRUNED)
    pruned_w, mask = got
    k = round(sparsity * w.size)
    kept, dropped = np.abs(w[mask]), np.abs(w[~mask])
    gap = float(np.max(dropped, initial=0.0) - np.min(kept, initial=np.inf))
    return expect_close(
        ctx,
        "magnitude_prune",
        f"exactly round({sparsity} * {w.size}) = {k} zeros in the mask, the largest |w| kept "
        "and pruned_w == w * mask",
        ("pruned count", "largest pruned |w| minus smallest kept |w|", "pruned_w"),
        (int(np.count_nonzero(~mask)), max(gap, 0.0), pruned_w),
        (k, 0.0, np.where(mask, w, 0.0)),
        0.0,
        evidence=observation(ctx, "magnitude_prune", args, got, PRUNED),
    )


def _mask_reused(ctx: Context) -> Verdict:
    """After a training step, re-applying the mask zeroes the pruned weights again and leaves
    the kept (updated) weights as they are."""
    w = ctx.rng.standard_normal((6, 5))
    _, mask = ctx.ref.magnitude_prune(w, 0.6)
    stepped = np.where(mask, w, 0.0) - 0.1 * ctx.rng.standard_normal(w.shape)
    (got,) = student_outputs(ctx, "apply_mask", (stepped, mask), ("pruned_w",))
    return expect_close(
        ctx,
        "apply_mask",
        "after an update, apply_mask(w, mask) is 0 where mask is False and w elsewhere",
        ("pruned_w",),
        (got,),
        (np.where(mask, stepped, 0.0),),
        0.0,
    )


def _linear_init(ctx: Context) -> Verdict:
    """iters=0 returns the linear initialisation itself: np.linspace(min, max, 2**bits)."""
    args = kmeans_case((10, 8), 3, 0)(ctx.rng)
    w = args[0]
    got = student_outputs(ctx, "kmeans_quantize", args, SHARED)
    want = np.linspace(w.min(), w.max(), 8)
    centroids = np.asarray(got[1], dtype=np.float64)
    verdict = expect_close(
        ctx,
        "kmeans_quantize",
        "with iters=0 the centroids are the linear initialisation linspace(min(w), max(w), 8)",
        ("centroids",),
        (centroids,),
        (want,),
        1e-9,
        evidence=observation(ctx, "kmeans_quantize", args, got, SHARED),
    )
    if verdict.passed or verdict.misconception:
        return verdict
    inside = bool(np.all((centroids >= w.min() - 1e-12) & (centroids <= w.max() + 1e-12)))
    steps = np.diff(np.sort(centroids))
    even = bool(np.allclose(steps, steps.mean(), rtol=1e-6, atol=0.0)) if steps.size else True
    if inside and not even:
        m = next(m for m in MISCONCEPTIONS if m.name == RANDOM_INIT)
        text = verdict.message + f"\n  looks like a known mistake: {m.name}. Hint: {m.hint}"
        return Verdict(Outcome.WRONG, text, misconception=m.name)
    return verdict


def _kmeans_codebook(ctx: Context) -> Verdict:
    """At most 2**bits distinct values, and w_shared == centroids[assignments]."""
    args = kmeans_case((12, 10), 2, 6)(ctx.rng)
    got = student_outputs(ctx, "kmeans_quantize", args, SHARED)
    w_shared, centroids, assignments = got
    if assignments.min() < 0 or assignments.max() >= 4:
        return Verdict(Outcome.WRONG, "kmeans_quantize: assignments must lie in [0, 2**bits)")
    return expect_close(
        ctx,
        "kmeans_quantize",
        "bits=2: at most 4 distinct shared values, w_shared == centroids[assignments]",
        ("distinct values beyond 4", "w_shared"),
        (max(len(np.unique(w_shared)) - 4, 0), w_shared),
        (0, centroids[assignments]),
        0.0,
        evidence=observation(ctx, "kmeans_quantize", args, got, SHARED),
    )


def _kmeans_more_bits(ctx: Context) -> Verdict:
    """On the same w, 4 bits never quantize worse than 2 bits (16 vs 4 centroids; the 2-bit
    linear grid is a subset of the 4-bit one, and Lloyd iterations only lower the error)."""
    w, _, iters = kmeans_case((15, 12), 2, 8)(ctx.rng)
    two = student_outputs(ctx, "kmeans_quantize", (w, 2, iters), SHARED)
    four = student_outputs(ctx, "kmeans_quantize", (w, 4, iters), SHARED)
    err2 = float(np.mean((two[0] - w) ** 2))
    err4 = float(np.mean((four[0] - w) ** 2))
    return expect_close(
        ctx,
        "kmeans_quantize",
        f"mean squared error with bits=4 ({err4:.3g}) <= with bits=2 ({err2:.3g})",
        ("excess error of bits=4",),
        (max(err4 - err2, 0.0),),
        (0.0,),
        0.0,
        evidence=observation(ctx, "kmeans_quantize", (w, 2, iters), two, SHARED),
    )


def _centroid_numeric(ctx: Context) -> Verdict:
    """Numeric gradient of L(c) = sum(dw * c[assignments]) with respect to the centroids."""
    k = 6
    dw, assignments, _ = assignment_case((5, 4), k)(ctx.rng)
    c0 = ctx.rng.standard_normal(k)
    got = student_outputs(ctx, "centroid_gradient", (dw, assignments, k), DC)
    numeric = numgrad.elementwise(lambda pts: [float(np.sum(dw * p[assignments])) for p in pts], c0)
    cmp = gradient_error("dcentroids", got[0], numeric.values, 1e-6, numeric.roundoff)
    if cmp.ok:
        return PASS
    args = (dw, assignments, k)
    expected = reference_outputs(ctx, "centroid_gradient", args)
    call = describe_call("centroid_gradient", param_names(ctx, "centroid_gradient"), args)
    seen = Observation("centroid_gradient", call, args, got, DC, expected)
    mistake = diagnose(ctx, seen, 1e-6)
    lines = [
        f"centroid_gradient(dw (5, 4), assignments int64 (5, 4), k={k}): dcentroids differs "
        "from the numeric gradient of sum(dw * centroids[assignments]).",
        "  " + cmp.describe(),
    ]
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)


# -- checks --------------------------------------------------------------------------------------
def checks(topic: str) -> list[Check]:
    mp, tp, am = "magnitude_prune", "threshold_prune", "apply_mask"
    km, cg, cs = "kmeans_quantize", "centroid_gradient", "compressed_size_bits"
    return [
        Reference(topic, mp, "sparsity 0.5, (6, 5)", weights((6, 5), 0.5), PRUNED, tol=0.0),
        Reference(
            topic,
            mp,
            "sparsity 0.62 of 30 weights: round(18.6) = 19",
            weights((30,), 0.62),
            PRUNED,
            tol=0.0,
        ),
        Reference(
            topic,
            mp,
            "tied magnitudes: lower flat index pruned first",
            tied_weights((4, 6), 0.5),
            PRUNED,
            tol=0.0,
        ),
        Reference(
            topic,
            mp,
            "sparsity 0 and nothing pruned",
            weights((3, 4), 0.0),
            PRUNED,
            tol=0.0,
            degenerate=True,
        ),
        Reference(
            topic,
            mp,
            "sparsity 1, everything pruned",
            weights((2, 5), 1.0),
            PRUNED,
            tol=0.0,
            degenerate=True,
        ),
        Reference(
            topic,
            mp,
            "(20, 15), sparsity 0.9",
            weights((20, 15), 0.9),
            PRUNED,
            tol=0.0,
            hidden=True,
        ),
        Property(topic, mp, "exact sparsity, largest magnitudes kept", _exact_sparsity),
        NoMutation(topic, mp, "inputs unchanged", weights((4, 4), 0.5), PRUNED),
        Deterministic(topic, mp, "deterministic", tied_weights((4, 4), 0.5), PRUNED),
        Reference(topic, tp, "quality 1.0, (8, 6)", weights((8, 6), 1.0), PRUNED, tol=0.0),
        Reference(topic, tp, "quality 0.25, 1-D", weights((40,), 0.25), PRUNED, tol=0.0),
        Reference(
            topic,
            tp,
            "a weight just above quality * std(w) (population std, ddof=0)",
            near_threshold(12, 0.8),
            PRUNED,
            tol=0.0,
        ),
        Reference(
            topic, tp, "a weight exactly at quality * std(w) (pruned)", at_threshold(15), PRUNED
        ),
        Reference(
            topic, tp, "(25, 20), quality 1.5", weights((25, 20), 1.5), PRUNED, tol=0.0, hidden=True
        ),
        NoMutation(topic, tp, "inputs unchanged", weights((4, 4), 1.0), PRUNED),
        Reference(topic, am, "mask keeping about 30%", masked((5, 6), 0.3), ("pruned_w",), tol=0.0),
        Property(topic, am, "pruned weights stay zero after an update", _mask_reused),
        NoMutation(topic, am, "inputs unchanged", masked((4, 4), 0.5), ("pruned_w",)),
        Reference(
            topic, km, "bits=2, iters=0 (linear init)", kmeans_case((6, 5), 2, 0), SHARED, tol=1e-9
        ),
        Reference(topic, km, "bits=3, iters=5", kmeans_case((8, 8), 3, 5), SHARED, tol=1e-9),
        Reference(topic, km, "bits=1, iters=3, 1-D", kmeans_case((17,), 1, 3), SHARED, tol=1e-9),
        Reference(
            topic,
            km,
            "empty clusters keep their centroid (bimodal w)",
            kmeans_case((10, 6), 3, 4, bimodal=True),
            SHARED,
            tol=1e-9,
        ),
        Reference(
            topic,
            km,
            "(30, 20), bits=4, iters=10",
            kmeans_case((30, 20), 4, 10),
            SHARED,
            tol=1e-9,
            hidden=True,
        ),
        Property(topic, km, "iters=0 gives the linear initialisation", _linear_init),
        Property(topic, km, "at most 2**bits values", _kmeans_codebook),
        Property(topic, km, "error does not grow with more bits", _kmeans_more_bits),
        NoMutation(topic, km, "inputs unchanged", kmeans_case((5, 5), 2, 3), SHARED),
        Deterministic(topic, km, "deterministic", kmeans_case((5, 5), 2, 3), SHARED),
        Reference(
            topic, cg, "k=8 (one cluster empty), (6, 4)", assignment_case((6, 4), 8), DC, tol=1e-9
        ),
        Reference(
            topic, cg, "k=16, (20, 10)", assignment_case((20, 10), 16), DC, tol=1e-9, hidden=True
        ),
        Property(topic, cg, "numeric gradient, elementwise", _centroid_numeric, kind=Kind.GRADIENT),
        NoMutation(topic, cg, "inputs unchanged", assignment_case((3, 4), 4), DC),
        Reference(
            topic,
            cs,
            "[1, 0, 0, 0, 0, 1], index_bits=2 (one filler)",
            fixed_mask([1, 0, 0, 0, 0, 1], 2, 2),
            SIZE,
            tol=0.0,
        ),
        Reference(
            topic, cs, "dense mask (4, 4), 8 bits", mask_case((4, 4), 1.1, 8, 5), SIZE, tol=0.0
        ),
        Reference(
            topic,
            cs,
            "90% pruned (20, 20), long gaps, index_bits=3",
            mask_case((20, 20), 0.1, 4, 3),
            SIZE,
            tol=0.0,
        ),
        Reference(
            topic, cs, "nothing kept (codebook only)", mask_case((3, 3), 0.0, 2, 4), SIZE, tol=0.0
        ),
        Reference(
            topic,
            cs,
            "(64, 32), 5 bits, index_bits=4",
            mask_case((64, 32), 0.15, 5, 4),
            SIZE,
            tol=0.0,
            hidden=True,
        ),
        NoMutation(topic, cs, "inputs unchanged", mask_case((5, 5), 0.3, 3, 3), SIZE),
    ]
