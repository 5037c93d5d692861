"""Topic ``preprocessing``: normalisation with training statistics, per-channel statistics, PCA,
PCA and ZCA whitening, and seeded data augmentation (flip, crop, colour jitter).

Declarations only. The pieces live beside this module: ``inputs`` (input makers), ``mistakes``
(the known mistakes the checks can name), ``laws`` (property laws of normalisation, PCA and
whitening) and ``augment`` (laws of the augmentations). Conventions (solutions/preprocessing.py):
statistics from the training split only, population statistics (divide by N), eps added to the
std in normalize and to the eigenvalues under the square root in whitening, PCA components as
columns sorted by decreasing variance with the largest-|entry| positive, and augmentations that
draw from their ``rng`` argument in a pinned order (the judge sends ``RngSeed(seed)``; the
student gets ``np.random.default_rng(seed)``, the reference the same), so that their batches are
compared exactly; laws judge the batch without the draw order.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.checks.base import Case, Check, Make
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.topics.preprocessing import augment, laws
from grader.topics.preprocessing import inputs as make
from grader.topics.preprocessing.mistakes import MISCONCEPTIONS

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "preprocessing"
SUMMARY = (
    "training-split statistics (leakage named), per-channel stats, PCA (columns, pinned signs), "
    "PCA/ZCA whitening; seeded flip, crop and jitter compared exactly for a pinned draw order"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "fit_normalizer",
    "normalize",
    "normalize_splits",
    "channel_stats",
    "pca_fit",
    "pca_project",
    "pca_whiten",
    "zca_whiten",
    "random_flip",
    "random_crop",
    "color_jitter",
)
OUTPUTS = {
    "fit_normalizer": ("mean", "std"),
    "normalize": ("out",),
    "normalize_splits": ("train", "val", "test"),
    "channel_stats": ("mean", "std"),
    "pca_fit": ("components", "explained_variance", "mean"),
    "pca_project": ("Z",),
    "pca_whiten": ("out",),
    "zca_whiten": ("out",),
    "random_flip": ("out",),
    "random_crop": ("out",),
    "color_jitter": ("out",),
}
TOL = {"pca_fit": 1e-6, "pca_project": 1e-7, "pca_whiten": 1e-6, "zca_whiten": 1e-6}
DRAW_TOL = 1e-10  # augmentations: the same draws, so only the rounding of a product differs

CASES: dict[str, list[Case]] = {
    "fit_normalizer": [
        Case("X (20, 5)", make.features((20, 5))),
        Case("square X (6, 6)", make.features((6, 6))),
        Case("batch of 1 (std 0)", make.features((1, 4))),
        Case("images (8, 3, 4, 5): mean image", make.features((8, 3, 4, 5))),
        Case("a constant feature, X (10, 3)", make.features((10, 3), constant=True)),
        Case("X (50, 13)", make.features((50, 13)), hidden=True),
    ],
    "normalize": [
        Case("X (10, 4), eps 1e-8", make.normalize_case((10, 4))),
        Case("default eps, X (7, 3)", make.normalize_case((7, 3), eps=None)),
        Case("eps 0.5", make.normalize_case((9, 5), eps=0.5)),
        Case("a constant feature (std 0)", make.normalize_constant((8, 4))),
        Case(
            "per-channel stats (C, 1, 1), X (4, 3, 5, 6)",
            make.normalize_case((4, 3, 5, 6), per_channel=True),
        ),
        Case("X (30, 7), eps 1e-3", make.normalize_case((30, 7), eps=1e-3), hidden=True),
    ],
    "normalize_splits": [
        Case("train 20, val 8, test 6, D=4", make.splits((20, 8, 6), (4,))),
        Case("images: train (10, 2, 3, 3)", make.splits((10, 5, 4), (2, 3, 3))),
        Case("a constant feature", make.splits((12, 6, 5), (3,), constant=True)),
        Case("val and test of 1 example", make.splits((9, 1, 1), (5,))),
        Case("train 40, val 15, test 25, D=9", make.splits((40, 15, 25), (9,)), hidden=True),
    ],
    "channel_stats": [
        Case("X (4, 3, 5, 6)", make.images((4, 3, 5, 6))),
        Case("W = C: X (5, 3, 4, 3)", make.images((5, 3, 4, 3))),
        Case("N = C: X (3, 3, 4, 5)", make.images((3, 3, 4, 5))),
        Case("batch of 1, X (1, 2, 3, 4)", make.images((1, 2, 3, 4))),
        Case("C=1, X (6, 1, 4, 4)", make.images((6, 1, 4, 4))),
        Case("X (16, 3, 8, 8)", make.images((16, 3, 8, 8)), hidden=True),
    ],
    "pca_fit": [
        Case("X (40, 5), k=2", make.pca_case(40, 5, 2)),
        Case("k = D: X (30, 4), k=4", make.pca_case(30, 4, 4)),
        Case("k=1, X (25, 6)", make.pca_case(25, 6, 1)),
        Case("N < D: X (6, 10), k=3", make.pca_case(6, 10, 3)),
        Case("D=1: X (10, 1), k=1", make.pca_case(10, 1, 1)),
        Case("X (100, 12), k=5", make.pca_case(100, 12, 5), hidden=True),
    ],
    "pca_project": [
        Case("X (10, 5), k=2", make.projection(10, 5, 2)),
        Case("k = D: X (8, 4), k=4", make.projection(8, 4, 4)),
        Case("batch of 1, X (1, 6), k=3", make.projection(1, 6, 3)),
        Case("k=1, X (7, 3)", make.projection(7, 3, 1)),
        Case("X (50, 20), k=7", make.projection(50, 20, 7), hidden=True),
    ],
    "pca_whiten": [
        Case("X (40, 5), eps 1e-5", make.whiten_case(40, 5)),
        Case("eps 0.5", make.whiten_case(30, 4, eps=0.5)),
        Case("N close to D: X (12, 10)", make.whiten_case(12, 10)),
        Case("D=1: X (9, 1)", make.whiten_case(9, 1)),
        Case("X (80, 9), eps 1e-3", make.whiten_case(80, 9, eps=1e-3), hidden=True),
    ],
    "zca_whiten": [
        Case("X (40, 5), eps 1e-5", make.whiten_case(40, 5)),
        Case("eps 0.5", make.whiten_case(30, 4, eps=0.5)),
        Case("N < D (rank deficient): X (6, 9)", make.rank_deficient(6, 9)),
        Case("D=1: X (9, 1)", make.whiten_case(9, 1)),
        Case("X (80, 9), eps 1e-3", make.whiten_case(80, 9, eps=1e-3), hidden=True),
    ],
    "random_flip": [
        Case("X (6, 3, 4, 5), p=0.5", make.flip_case((6, 3, 4, 5), 0.5)),
        Case("p=0.3, X (10, 2, 3, 3)", make.flip_case((10, 2, 3, 3), 0.3)),
        Case("p=1, X (4, 2, 5, 3)", make.flip_case((4, 2, 5, 3), 1.0)),
        Case("batch of 1, X (1, 3, 2, 5)", make.flip_case((1, 3, 2, 5), 0.5)),
        Case("X (32, 3, 8, 8), p=0.6", make.flip_case((32, 3, 8, 8), 0.6), hidden=True),
    ],
    "random_crop": [
        Case("pad 2, size (6, 6) keeps X (4, 3, 6, 6)", make.crop_case((4, 3, 6, 6), (6, 6), 2)),
        Case("pad 0, size (5, 4) of X (3, 2, 7, 6)", make.crop_case((3, 2, 7, 6), (5, 4), 0)),
        Case("pad 1, non-square (3, 5) of X (5, 1, 4, 6)", make.crop_case((5, 1, 4, 6), (3, 5), 1)),
        Case("batch of 1, pad 3, size (4, 4)", make.crop_case((1, 2, 4, 4), (4, 4), 3)),
        Case("size = padded size (one offset)", make.crop_case((3, 2, 4, 5), (6, 7), 1)),
        Case(
            "CIFAR-like: pad 4, size (10, 10) of X (16, 3, 10, 10)",
            make.crop_case((16, 3, 10, 10), (10, 10), 4),
            hidden=True,
        ),
    ],
    "color_jitter": [
        Case("brightness 0.3, color 0.1, X (4, 3, 5, 5)", make.jitter_case((4, 3, 5, 5), 0.3, 0.1)),
        Case("brightness only (color 0), X (5, 3, 4, 6)", make.jitter_case((5, 3, 4, 6), 0.4, 0.0)),
        Case("C=1, batch of 1", make.jitter_case((1, 1, 4, 4), 0.2, 0.2)),
        Case(
            "bright images clip at 1 (brightness 0.5)",
            make.jitter_case((6, 3, 4, 4), 0.5, 0.2, low=0.6),
        ),
        Case("X (16, 3, 8, 8)", make.jitter_case((16, 3, 8, 8), 0.25, 0.15), hidden=True),
    ],
}
AUGMENT = ("random_flip", "random_crop", "color_jitter")


def _reference_and_hygiene(function: str, cases: Sequence[Case]) -> list[Check]:
    names = OUTPUTS[function]
    tol = DRAW_TOL if function in AUGMENT else TOL.get(function, 1e-7)
    found: list[Check] = []
    for case in cases:
        label = (
            f"same {names[0]} as the reference for a seed: {case.name}"
            if (function in AUGMENT)
            else case.name
        )
        found.append(
            Reference(TOPIC, function, label, case.make, names, tol=tol, hidden=case.hidden)
        )
    first: Make = cases[0].make
    found.append(NoMutation(TOPIC, function, "inputs unchanged", first, names))
    label = "same seed, same batch" if function in AUGMENT else "deterministic"
    found.append(Deterministic(TOPIC, function, label, first, names))
    return found


def _laws() -> dict[str, list[Check]]:
    P = Property
    return {
        "fit_normalizer": [
            P(
                TOPIC,
                "fit_normalizer",
                "training split normalised: mean 0, std 1 (X (40, 6))",
                laws.fit_standardises(make.features((40, 6))),
            ),
            P(
                TOPIC,
                "fit_normalizer",
                "training split normalised: mean 0, std 1 (X (64, 11))",
                laws.fit_standardises(make.features((64, 11))),
                hidden=True,
            ),
        ],
        "normalize": [
            P(
                TOPIC,
                "normalize",
                "own statistics give mean 0, std 1 (X (30, 5))",
                laws.normalize_own_stats(make.features((30, 5))),
            ),
        ],
        "normalize_splits": [
            P(
                TOPIC,
                "normalize_splits",
                "training split comes out with mean 0, std 1",
                laws.splits_train_standardised(make.splits((25, 10, 8), (6,))),
            ),
            P(
                TOPIC,
                "normalize_splits",
                "validation normalised with training statistics",
                laws.splits_val_uses_train_stats(make.splits((15, 6, 4), (5,))),
            ),
            P(
                TOPIC,
                "normalize_splits",
                "training output independent of val and test",
                laws.splits_train_independent(make.splits((15, 6, 4), (5,))),
            ),
        ],
        "pca_fit": [
            P(
                TOPIC,
                "pca_fit",
                "components orthonormal",
                laws.pca_orthonormal(make.pca_case(30, 6, 3)),
            ),
            P(
                TOPIC,
                "pca_fit",
                "components are eigenvectors of the covariance",
                laws.pca_eigenvectors(make.pca_case(30, 6, 3)),
            ),
            P(
                TOPIC,
                "pca_fit",
                "explained variance sorted, variance along each component",
                laws.pca_sorted_variance(make.pca_case(30, 6, 6)),
            ),
            P(
                TOPIC,
                "pca_fit",
                "sign convention: largest |entry| of each column positive",
                laws.pca_signs(make.pca_case(30, 6, 6)),
            ),
            P(TOPIC, "pca_fit", "first k of all D components", laws.pca_prefix(35, 7, 3)),
            P(
                TOPIC,
                "pca_fit",
                "components are eigenvectors of the covariance (X (60, 15))",
                laws.pca_eigenvectors(make.pca_case(60, 15, 6)),
                hidden=True,
            ),
        ],
        "pca_project": [
            P(
                TOPIC,
                "pca_project",
                "k = D: reconstruction gives X back",
                laws.project_reconstructs(make.projection(9, 5, 5)),
            ),
        ],
        "pca_whiten": [
            P(
                TOPIC,
                "pca_whiten",
                "whitened: mean 0, identity covariance (eps 1e-8)",
                laws.whitened_identity("pca_whiten", make.whiten_case(60, 5, eps=1e-8)),
            ),
            P(
                TOPIC,
                "pca_whiten",
                "whitened: mean 0, identity covariance (X (200, 12))",
                laws.whitened_identity("pca_whiten", make.whiten_case(200, 12, eps=1e-8)),
                hidden=True,
            ),
            P(
                TOPIC,
                "pca_whiten",
                "N < D: all D components kept, 0 where there is no variance (X (6, 9))",
                laws.whiten_fewer_samples(make.rank_deficient(6, 9)),
            ),
        ],
        "zca_whiten": [
            P(
                TOPIC,
                "zca_whiten",
                "whitened: mean 0, identity covariance (eps 1e-8)",
                laws.whitened_identity("zca_whiten", make.whiten_case(60, 5, eps=1e-8)),
            ),
            P(
                TOPIC,
                "zca_whiten",
                "commutes with rotations",
                laws.zca_rotation(make.whiten_case(40, 4)),
            ),
        ],
        "random_flip": [
            P(
                TOPIC,
                "random_flip",
                "each image unchanged or mirrored (p=0.5)",
                augment.flip_each_or_none(make.flip_case((40, 2, 3, 4), 0.5)),
            ),
            P(
                TOPIC,
                "random_flip",
                "p=1 mirrors all; flipping twice is the identity",
                augment.flip_all(make.flip_case((5, 3, 4, 6), 1.0)),
            ),
            P(
                TOPIC,
                "random_flip",
                "p=0 is the identity",
                augment.flip_none(make.flip_case((5, 2, 3, 4), 0.0)),
            ),
            P(
                TOPIC,
                "random_flip",
                "flips a fraction p (p=0.3, 20000 images)",
                augment.flip_fraction(0.3, 20_000),
                # the anchor: a law of any draw order that no trivial function obeys
                is_anchor=True,
            ),
            P(
                TOPIC,
                "random_flip",
                "X unchanged: out is a new array (32 images, p=0.5)",
                augment.new_array("random_flip", make.flip_case((32, 1, 2, 3), 0.5)),
            ),
        ],
        "random_crop": [
            P(
                TOPIC,
                "random_crop",
                "each crop a window of the zero-padded image",
                augment.crop_windows(make.crop_case((20, 2, 5, 6), (5, 6), 2)),
            ),
            P(
                TOPIC,
                "random_crop",
                "size (H, W) keeps the shape (pad 4)",
                augment.crop_keeps_shape(make.crop_case((3, 3, 8, 8), (8, 8), 4)),
            ),
            P(
                TOPIC,
                "random_crop",
                "size (H, W), pad 0 is the identity",
                augment.crop_identity(make.crop_case((4, 2, 5, 3), (5, 3), 0)),
            ),
            P(
                TOPIC,
                "random_crop",
                "every offset drawn, the last included (3000 crops)",
                augment.crop_every_offset(3000),
                # the anchor: a law of any draw order that no trivial function obeys
                is_anchor=True,
            ),
        ],
        "color_jitter": [
            P(
                TOPIC,
                "color_jitter",
                "brightness 0, color 0 is the identity",
                augment.jitter_identity(make.jitter_case((3, 3, 4, 4), 0.0, 0.0)),
            ),
            P(
                TOPIC,
                "color_jitter",
                "one factor per image and channel, within the bounds",
                augment.jitter_one_factor_per_channel(
                    make.jitter_case((20, 3, 4, 5), 0.3, 0.1, high=0.6)
                ),
                # the anchor: a law of any draw order that no trivial function obeys
                is_anchor=True,
            ),
            P(
                TOPIC,
                "color_jitter",
                "clipped to [0, 1]",
                augment.jitter_clipped(make.jitter_case((8, 3, 4, 4), 0.5, 0.2, low=0.7)),
            ),
            P(
                TOPIC,
                "color_jitter",
                "brightness differs between images",
                augment.jitter_varies(
                    make.jitter_case((32, 3, 2, 2), 0.3, 0.0, high=0.6), "brightness"
                ),
            ),
            P(
                TOPIC,
                "color_jitter",
                "colour differs between images",
                augment.jitter_varies(
                    make.jitter_case((32, 3, 2, 2), 0.0, 0.2, high=0.6), "colour"
                ),
            ),
            P(
                TOPIC,
                "color_jitter",
                "X unchanged: out is a new array",
                augment.new_array("color_jitter", make.jitter_case((8, 3, 4, 4), 0.3, 0.1)),
            ),
        ],
    }


def checks() -> list[Check]:
    found: list[Check] = []
    properties = _laws()
    for function in FUNCTIONS:
        found += _reference_and_hygiene(function, CASES[function])
        found += properties.get(function, [])
    return found
