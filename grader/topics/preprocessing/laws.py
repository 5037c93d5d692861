"""Topic ``preprocessing``, part three: the laws of normalisation, PCA and whitening.

Each law calls the student's function (``student_outputs``: structure checked against the
reference) and judges the result on its own terms: normalised training data has mean 0 and std
1, components are orthonormal eigenvectors, whitened data has identity covariance. Values that
should be 0 are compared by absolute error (a relative error cannot judge 1e-16 against 0).
Where a law fails, the student's plain call is the evidence that names a known mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict
from grader.checks.diagnose import Observation, diagnose
from grader.checks.outputs import describe_call
from grader.checks.property import student_outputs
from grader.checks.reference import param_names, reference_outputs
from grader.judge.compare import Comparison, relative_error
from grader.topics.preprocessing import inputs
from grader.topics.preprocessing.mistakes import OWN_STATS, by_name

Body = Callable[[Context], Verdict]
STATS = ("mean", "std")
PCA = ("components", "explained_variance", "mean")
LAW_TOL = 1e-7  # absolute, on quantities of order 1


# -- verdicts ------------------------------------------------------------------------------------
def absolute_error(name: str, got: np.ndarray, expected: np.ndarray, tol: float) -> Comparison:
    """``max |a - b|`` with the worst element's index (NaN counts as an infinite error)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), got.shape)
    with np.errstate(all="ignore"):
        err = np.abs(got - expected)
    err = np.where(np.isnan(err), np.inf, err)
    if err.size == 0:
        return Comparison(name, 0.0, tol, (), np.nan, np.nan, "absolute error max|a-b|")
    flat = int(np.argmax(err))
    idx = np.unravel_index(flat, err.shape) if err.ndim else ()
    return Comparison(
        name,
        float(err.flat[flat]),
        tol,
        tuple(int(i) for i in idx),
        float(got.flat[flat]),
        float(expected.flat[flat]),
        "absolute error max|a-b|",
    )


def call_text(ctx: Context, function: str, args: Sequence[object]) -> str:
    return describe_call(function, param_names(ctx, function), args)


def evidence(
    ctx: Context, function: str, args: tuple, got: Sequence[object], names: Sequence[str]
) -> Observation:
    """One plain call of ``function``, to name the known mistake its outputs match."""
    return Observation(function, call_text(ctx, function, args), args, got, names)


def law_verdict(
    ctx: Context,
    function: str,
    law: str,
    comparisons: Sequence[Comparison],
    seen: Observation | None = None,
) -> Verdict:
    """PASS when every comparison holds; else say which law broke and name the mistake that
    ``seen`` (the student's plain call) matches, if any."""
    bad = [c for c in comparisons if not c.ok]
    if not bad:
        return PASS
    where = seen.call if seen is not None else function
    lines = [f"{where}: {law} does not hold.", "  " + bad[0].describe()]
    if len(bad) > 1:
        lines.append("  also off: " + ", ".join(c.name for c in bad[1:4]))
    mistake = None
    if seen is not None:
        expected = reference_outputs(ctx, function, tuple(seen.inputs))
        mistake = diagnose(ctx, replace(seen, expected=expected), LAW_TOL)
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)


def named(function: str, name: str, message: str) -> Verdict:
    """A wrong verdict naming a known mistake recognised by the law itself."""
    mistake = by_name(function, name)
    return Verdict(
        Outcome.WRONG,
        f"{message}\n  looks like a known mistake: {name}. Hint: {mistake.hint}",
        misconception=name,
    )


def _standardised(out: np.ndarray, tol: float = LAW_TOL) -> list[Comparison]:
    """Every feature (position after axis 0) of ``out`` has mean 0 and std 1."""
    return [
        absolute_error("feature means", out.mean(axis=0), 0.0, tol),
        absolute_error("feature stds", out.std(axis=0), 1.0, tol),
    ]


# -- normalisation -------------------------------------------------------------------------------
def fit_standardises(make: Make) -> Body:
    """(X - mean) / (std + 1e-8) with the student's statistics has mean 0 and std 1."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X = args[0]
        got = student_outputs(ctx, "fit_normalizer", args, STATS)
        out = (X - got[0]) / (got[1] + 1e-8)
        return law_verdict(
            ctx,
            "fit_normalizer",
            "(X_train - mean) / (std + 1e-8) has mean 0 and std 1 per feature",
            _standardised(out),
            evidence(ctx, "fit_normalizer", args, got, STATS),
        )

    return body


def normalize_own_stats(make: Make) -> Body:
    """normalize(X, X.mean(0), X.std(0)) has mean 0 and std 1 per feature."""

    def body(ctx: Context) -> Verdict:
        (X,) = make(ctx.rng)
        args = (X, X.mean(axis=0), X.std(axis=0), 1e-8)
        got = student_outputs(ctx, "normalize", args, ("out",))
        return law_verdict(
            ctx,
            "normalize",
            "X normalised with its own mean and std has mean 0 and std 1 per feature",
            _standardised(got[0]),
            evidence(ctx, "normalize", args, got, ("out",)),
        )

    return body


SPLITS = ("train", "val", "test")


def splits_train_standardised(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        got = student_outputs(ctx, "normalize_splits", args, SPLITS)
        return law_verdict(
            ctx,
            "normalize_splits",
            "the training split comes out with mean 0 and std 1 per feature",
            _standardised(got[0]),
            evidence(ctx, "normalize_splits", args, got, SPLITS),
        )

    return body


def splits_val_uses_train_stats(make: Make) -> Body:
    """A validation example's output does not depend on the other validation examples."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        train, val, test, eps = args
        full = student_outputs(ctx, "normalize_splits", args, SPLITS)
        alone = student_outputs(ctx, "normalize_splits", (train, val[:1], test, eps), SPLITS)
        cmp = relative_error("val[0] normalised alone", alone[1][0], full[1][0], 1e-10)
        if cmp.ok:
            return PASS
        if np.all(alone[1] == 0.0):
            return named(
                "normalize_splits",
                OWN_STATS,
                f"{call_text(ctx, 'normalize_splits', args)}: a validation split of one "
                "example came out as all zeros: it was normalised with its own mean (itself) "
                "and std (0).\n  " + cmp.describe(),
            )
        return law_verdict(
            ctx,
            "normalize_splits",
            "the output of a validation example does not depend on the other validation "
            "examples (validation normalised with the training statistics)",
            [cmp],
            evidence(ctx, "normalize_splits", args, full, SPLITS),
        )

    return body


def splits_train_independent(make: Make) -> Body:
    """The training split's output does not depend on the validation and test splits."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        train, val, test, eps = args
        other = (train, val * 2.0 + 3.0, test - 4.0, eps)
        first = student_outputs(ctx, "normalize_splits", args, SPLITS)
        second = student_outputs(ctx, "normalize_splits", other, SPLITS)
        return law_verdict(
            ctx,
            "normalize_splits",
            "the training split's output does not depend on the validation and test splits",
            [relative_error("train (other val and test)", second[0], first[0], 1e-10)],
            evidence(ctx, "normalize_splits", args, first, SPLITS),
        )

    return body


# -- PCA -----------------------------------------------------------------------------------------
def _fit(ctx: Context, make: Make) -> tuple[tuple, tuple, np.ndarray]:
    """(args, the student's pca_fit outputs, the centred data)."""
    args = make(ctx.rng)
    got = student_outputs(ctx, "pca_fit", args, PCA)
    X = args[0]
    return args, got, X - X.mean(axis=0)


def pca_orthonormal(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args, got, _ = _fit(ctx, make)
        C = got[0]
        gram = C.T @ C
        return law_verdict(
            ctx,
            "pca_fit",
            "the components are orthonormal columns (components.T @ components = I)",
            [absolute_error("components.T @ components", gram, np.eye(len(gram)), 1e-10)],
            evidence(ctx, "pca_fit", args, got, PCA),
        )

    return body


def pca_eigenvectors(make: Make) -> Body:
    """cov @ components = components * explained_variance, with cov = Xc.T @ Xc / N."""

    def body(ctx: Context) -> Verdict:
        args, got, Xc = _fit(ctx, make)
        C, variance = got[0], got[1]
        cov = Xc.T @ Xc / Xc.shape[0]
        tol = 1e-9 * max(1.0, float(np.max(np.abs(cov))))
        return law_verdict(
            ctx,
            "pca_fit",
            "each component is an eigenvector of the covariance Xc.T @ Xc / N with its "
            "explained variance as eigenvalue",
            [
                absolute_error(
                    "cov @ components - components * explained_variance",
                    cov @ C - C * variance,
                    0.0,
                    tol,
                )
            ],
            evidence(ctx, "pca_fit", args, got, PCA),
        )

    return body


def pca_sorted_variance(make: Make) -> Body:
    """explained_variance is decreasing and is the variance of Xc along each component."""

    def body(ctx: Context) -> Verdict:
        args, got, Xc = _fit(ctx, make)
        C, variance = got[0], got[1]
        along = (Xc @ C).var(axis=0)
        steps = np.diff(variance)
        return law_verdict(
            ctx,
            "pca_fit",
            "explained_variance is sorted (decreasing) and equals the variance of the centred "
            "data along each component (divide by N)",
            [
                absolute_error("increase of explained_variance", np.maximum(steps, 0.0), 0.0, 0.0),
                absolute_error(
                    "explained_variance - var(Xc @ components)",
                    variance - along,
                    0.0,
                    1e-9 * max(1.0, float(np.max(along))),
                ),
            ],
            evidence(ctx, "pca_fit", args, got, PCA),
        )

    return body


def pca_signs(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args, got, _ = _fit(ctx, make)
        C = got[0]
        largest = C[np.argmax(np.abs(C), axis=0), np.arange(C.shape[1])]
        negative = np.minimum(np.sign(largest), 0.0)
        return law_verdict(
            ctx,
            "pca_fit",
            "sign convention: the entry of largest |value| of each component is positive",
            [
                absolute_error(
                    "sign of each column's largest entry (negative shown)", negative, 0.0, 0.0
                )
            ],
        )

    return body


def pca_prefix(N: int, D: int, k: int) -> Body:
    """pca_fit(X, k) is the first k columns (and variances) of pca_fit(X, D)."""

    def body(ctx: Context) -> Verdict:
        X, _ = inputs.pca_case(N, D, D)(ctx.rng)
        few = student_outputs(ctx, "pca_fit", (X, k), PCA)
        every = student_outputs(ctx, "pca_fit", (X, D), PCA)
        return law_verdict(
            ctx,
            "pca_fit",
            f"pca_fit(X, {k}) is the first {k} components of pca_fit(X, {D})",
            [
                relative_error("components", few[0], every[0][:, :k], 1e-8),
                relative_error("explained_variance", few[1], every[1][:k], 1e-8),
            ],
        )

    return body


def project_reconstructs(make: Make) -> Body:
    """With k = D, project(X) @ components.T + mean is X."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, C, mean = args
        got = student_outputs(ctx, "pca_project", args, ("Z",))
        back = got[0] @ C.T + mean
        return law_verdict(
            ctx,
            "pca_project",
            "with all D components, Z @ components.T + mean gives X back",
            [absolute_error("Z @ components.T + mean", back, X, 1e-9)],
            evidence(ctx, "pca_project", args, got, ("Z",)),
        )

    return body


def whitened_identity(function: str, make: Make) -> Body:
    """Mean 0 and covariance (divide by N) the identity, up to eps / (smallest eigenvalue)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, eps = args
        got = student_outputs(ctx, function, args, ("out",))
        out = got[0]
        Xc = X - X.mean(axis=0)
        smallest = float(np.min(np.linalg.eigvalsh(Xc.T @ Xc / X.shape[0])))
        tol = 2.0 * eps / smallest + 1e-9
        cov = (out - out.mean(axis=0)).T @ (out - out.mean(axis=0)) / X.shape[0]
        return law_verdict(
            ctx,
            function,
            f"whitened data has mean 0 and identity covariance (up to eps = {eps:g})",
            [
                absolute_error("mean of out over axis 0", out.mean(axis=0), 0.0, 1e-9),
                absolute_error("covariance of out (divide by N)", cov, np.eye(X.shape[1]), tol),
            ],
            evidence(ctx, function, args, got, ("out",)),
        )

    return body


def zca_rotation(make: Make) -> Body:
    """zca_whiten(X @ Q) = zca_whiten(X) @ Q for an orthogonal Q."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, eps = args
        Q, _ = np.linalg.qr(ctx.rng.standard_normal((X.shape[1], X.shape[1])))
        plain = student_outputs(ctx, "zca_whiten", args, ("out",))
        rotated = student_outputs(ctx, "zca_whiten", (X @ Q, eps), ("out",))
        return law_verdict(
            ctx,
            "zca_whiten",
            "ZCA commutes with rotations: zca_whiten(X @ Q) = zca_whiten(X) @ Q (Q orthogonal)",
            [
                absolute_error(
                    "zca_whiten(X @ Q) - zca_whiten(X) @ Q", rotated[0] - plain[0] @ Q, 0.0, 1e-8
                )
            ],
            evidence(ctx, "zca_whiten", args, plain, ("out",)),
        )

    return body


def whiten_fewer_samples(make: Make) -> Body:
    """N < D: all D components are kept, so out is (N, D). Xc has rank N - 1 at most: the first
    N - 1 columns (distinct nonzero eigenvalues, unique under pca_fit's sign convention) match
    the reference; the others hold the data along directions of zero variance, 0 up to
    roundoff / sqrt(eps), whatever basis an eigensolver picks for them."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, _eps = args
        N = X.shape[0]
        got = student_outputs(ctx, "pca_whiten", args, ("out",))  # shape (N, D) checked there
        want = reference_outputs(ctx, "pca_whiten", args)[0]
        return law_verdict(
            ctx,
            "pca_whiten",
            f"with N = {N} < D = {X.shape[1]}, every one of the D components is kept: the "
            f"first N - 1 = {N - 1} columns are the whitened data, the rest are 0 (no variance)",
            [
                relative_error(f"out[:, :{N - 1}]", got[0][:, : N - 1], want[:, : N - 1], 1e-6),
                absolute_error(f"out[:, {N - 1}:]", got[0][:, N - 1 :], 0.0, 1e-6),
            ],
            evidence(ctx, "pca_whiten", args, got, ("out",)),
        )

    return body
