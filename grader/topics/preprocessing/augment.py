"""Topic ``preprocessing``, part four: the laws of the seeded augmentations.

A student who draws in another order than the docstring pins fails only the checks that compare
with the reference for a seed; these laws judge the student's batch on its own: every image is
unchanged or mirrored, every crop is a window of the zero-padded image, every channel is scaled
by one factor within the bounds. Statistical laws (fraction flipped, every crop offset drawn)
run on thousands of tiny images with bounds of 10 standard deviations, so they hold for any
seed.
"""

from __future__ import annotations

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict
from grader.checks.outputs import conform_outputs
from grader.checks.property import student_outputs
from grader.checks.reference import reference_outputs
from grader.judge.student import Call
from grader.topics.preprocessing import inputs
from grader.topics.preprocessing.laws import (
    Body,
    absolute_error,
    call_text,
    evidence,
    law_verdict,
    named,
)
from grader.topics.preprocessing.mistakes import (
    CROP_OFF_BY_ONE,
    IN_PLACE,
    ONE_FACTOR,
    WRONG_FLIP_AXIS,
)

OUT = ("out",)
SIGMAS = 10.0


# -- flips ---------------------------------------------------------------------------------------
def flip_each_or_none(make: Make) -> Body:
    """Every image is X[n] or X[n, :, :, ::-1]."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X = args[0]
        out = student_outputs(ctx, "random_flip", args, OUT)[0]
        text = call_text(ctx, "random_flip", args)
        for n in range(len(X)):
            if np.array_equal(out[n], X[n]) or np.array_equal(out[n], X[n, :, :, ::-1]):
                continue
            message = (
                f"{text}: image {n} is neither unchanged nor mirrored left to right "
                "(X[n, :, :, ::-1])"
            )
            for axis, what in ((1, "its channels"), (2, "its rows (a vertical flip)")):
                if np.array_equal(out[n], np.flip(X[n], axis=axis - 1)):
                    return named("random_flip", WRONG_FLIP_AXIS, f"{message}; it reversed {what}")
            return Verdict(Outcome.WRONG, message)
        return PASS

    return body


def flip_all(make: Make) -> Body:
    """p = 1 mirrors every image, and flipping the result again gives X back."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X = args[0]
        once = student_outputs(ctx, "random_flip", args, OUT)
        again_args = (once[0], inputs.seed(ctx.rng), 1.0)
        twice = student_outputs(ctx, "random_flip", again_args, OUT)[0]
        return law_verdict(
            ctx,
            "random_flip",
            "p = 1 mirrors every image (X[:, :, :, ::-1]) and flipping twice is the identity",
            [
                absolute_error("random_flip(X, rng, 1.0)", once[0], X[:, :, :, ::-1], 0.0),
                absolute_error("random_flip(random_flip(X, rng, 1.0), rng, 1.0)", twice, X, 0.0),
            ],
            evidence(ctx, "random_flip", args, once, OUT),
        )

    return body


def flip_none(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        out = student_outputs(ctx, "random_flip", args, OUT)
        return law_verdict(
            ctx,
            "random_flip",
            "p = 0 leaves every image as it is",
            [absolute_error("out", out[0], args[0], 0.0)],
            evidence(ctx, "random_flip", args, out, OUT),
        )

    return body


def flip_fraction(p: float, count: int) -> Body:
    """Of ``count`` images (1, 1, 2) a fraction p +- 10 standard deviations is flipped."""

    def body(ctx: Context) -> Verdict:
        X = np.stack([np.zeros(count), np.ones(count)], axis=1).reshape(count, 1, 1, 2)
        X = X + ctx.rng.uniform(0.0, 0.5, X.shape)
        args = (X, inputs.seed(ctx.rng), p)
        out = student_outputs(ctx, "random_flip", args, OUT)[0]
        fraction = float(np.mean(out[:, 0, 0, 0] > out[:, 0, 0, 1]))
        bound = SIGMAS * np.sqrt(p * (1 - p) / count)
        if abs(fraction - p) <= bound:
            return PASS
        swapped = (
            " (1 - p: flipped where the draw is >= p?)" if abs(fraction - 1 + p) <= bound else ""
        )
        return Verdict(
            Outcome.WRONG,
            f"{call_text(ctx, 'random_flip', args)}: flipped {fraction:.4f} of the images; "
            f"expected p = {p} +- {bound:.4f} ({SIGMAS:g} standard deviations){swapped}",
        )

    return body


def new_array(function: str, make: Make) -> Body:
    """The augmentation returns a new array: the caller's X holds its images afterwards (read
    back from the worker after the call). Whatever the course's mutation policy, this one
    costs the check: the docstrings promise "a new array", and a batch augmented in place
    compounds its flips and jitters epoch after epoch."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        reply = ctx.student.call(Call(function, args, echo=[0]))
        conform_outputs(reply.value, reference_outputs(ctx, function, args), OUT, function)
        after = reply.echo[0]
        if isinstance(after, np.ndarray) and after.shape == args[0].shape:
            if np.array_equal(after, args[0]):
                return PASS
        return named(
            function,
            IN_PLACE,
            f"{call_text(ctx, function, args)} changed X: the images you were given must "
            "stay as they are (the docstring: the result is a new array of X's dtype)",
        )

    return body


# -- crops ---------------------------------------------------------------------------------------
def _offsets(X: np.ndarray, out: np.ndarray, pad: int) -> np.ndarray:
    """(N, nH, nW) bool: where out[n] equals the window of the padded X[n] at each offset."""
    h, w = out.shape[2:]
    padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
    # windows: (N, C, nH, nW, h, w)
    return np.all(windows == out[:, :, None, None], axis=(1, 4, 5))


def crop_windows(make: Make) -> Body:
    """Every crop is a (h, w) window of the zero-padded image."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, _, size, pad = args
        out = student_outputs(ctx, "random_crop", args, OUT)[0]
        found = _offsets(X, out, pad).any(axis=(1, 2))
        if found.all():
            return PASS
        n = int(np.argmin(found))
        return Verdict(
            Outcome.WRONG,
            f"{call_text(ctx, 'random_crop', args)}: crop {n} is not a {size} window of image "
            f"{n} padded with {pad} zeros on each side of H and W (np.pad, mode 'constant')",
        )

    return body


def crop_keeps_shape(make: Make) -> Body:
    """size (H, W) gives back images of X's shape (any padding)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X = args[0]
        reply = ctx.student.call(Call("random_crop", args))
        value = reply.value
        if isinstance(value, np.ndarray) and value.shape != X.shape:
            return Verdict(
                Outcome.WRONG,
                f"{call_text(ctx, 'random_crop', args)}: a crop of size (H, W) must keep the "
                f"shape {X.shape}; got {value.shape} (crop the padded image, do not return it)",
            )
        conform_outputs(value, reference_outputs(ctx, "random_crop", args), OUT, "random_crop")
        return PASS

    return body


def crop_identity(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        out = student_outputs(ctx, "random_crop", args, OUT)
        return law_verdict(
            ctx,
            "random_crop",
            "size (H, W) with pad 0 is the identity",
            [absolute_error("out", out[0], args[0], 0.0)],
        )

    return body


def crop_every_offset(count: int) -> Body:
    """``count`` crops (3, 3) of (1, 3, 3) images padded by 1: each of the 9 offsets is drawn
    about count / 9 times; one that never is, is a bug (P(missing) < 9 (8/9)^count)."""

    def body(ctx: Context) -> Verdict:
        X = ctx.rng.uniform(0.5, 2.0, (count, 1, 3, 3))
        args = (X, inputs.seed(ctx.rng), (3, 3), 1)
        out = student_outputs(ctx, "random_crop", args, OUT)[0]
        at = _offsets(X, out, 1)
        text = call_text(ctx, "random_crop", args)
        if not at.any(axis=(1, 2)).all():
            return Verdict(Outcome.WRONG, f"{text}: some crops are not windows of the padded image")
        counts = at.sum(axis=0)
        if counts.all():
            return PASS
        message = (
            f"{text}: offsets (top, left) drawn per position {counts.tolist()}; every one of "
            "the 3 x 3 offsets must be possible"
        )
        if counts[:2, :2].all() and not counts[2].any() and not counts[:, 2].any():
            return named("random_crop", CROP_OFF_BY_ONE, message + "; the last never came up")
        return Verdict(Outcome.WRONG, message)

    return body


# -- colour jitter -------------------------------------------------------------------------------
def _factors(X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out / X per pixel (X is never 0 here)."""
    return out / X


def jitter_identity(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        out = student_outputs(ctx, "color_jitter", args, OUT)
        return law_verdict(
            ctx,
            "color_jitter",
            "brightness 0 and color 0 leave the images as they are",
            [absolute_error("out", out[0], args[0], 1e-12)],
        )

    return body


def jitter_one_factor_per_channel(make: Make) -> Body:
    """out[n, ch] = X[n, ch] * f[n, ch], f in [(1 - b)(1 - c), (1 + b)(1 + c)] (no clipping:
    X <= 0.6)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, _, b, c = args
        out = student_outputs(ctx, "color_jitter", args, OUT)[0]
        f = _factors(X, out)
        per_channel = f.mean(axis=(2, 3), keepdims=True)
        low, high = (1 - b) * (1 - c), (1 + b) * (1 + c)
        spread = float(np.ptp(per_channel)) if np.all(np.isfinite(per_channel)) else 0.0
        if spread < 1e-6:  # one factor for all (1: nothing drawn) obeys the bounds trivially
            return Verdict(
                Outcome.WRONG,
                f"color_jitter: every channel of every image got the same factor "
                f"({float(per_channel.flat[0]):.6g}); with brightness {b:g} and color {c:g} a "
                "factor is drawn for each image and channel",
            )
        outside = np.maximum(per_channel - high, 0.0) + np.maximum(low - per_channel, 0.0)
        return law_verdict(
            ctx,
            "color_jitter",
            f"every channel of every image is scaled by one factor in [{low:g}, {high:g}]",
            [
                absolute_error("out / X minus its mean over H, W", f - per_channel, 0.0, 1e-9),
                absolute_error("distance of the factor from the bounds", outside, 0.0, 1e-12),
            ],
        )

    return body


def jitter_clipped(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        out = student_outputs(ctx, "color_jitter", args, OUT)[0]
        beyond = np.maximum(out - 1.0, 0.0) + np.maximum(-out, 0.0)
        return law_verdict(
            ctx,
            "color_jitter",
            "results are clipped to [0, 1]",
            [absolute_error("distance of out from [0, 1]", beyond, 0.0, 0.0)],
        )

    return body


def jitter_varies(make: Make, what: str) -> Body:
    """The factors differ between images: per image (``what`` "brightness", color 0) or per
    image for each channel (``what`` "color", brightness 0)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X = args[0]
        out = student_outputs(ctx, "color_jitter", args, OUT)[0]
        f = _factors(X, out).mean(axis=(2, 3))  # (N, C)
        spread = np.ptp(f, axis=0)  # per channel, across images
        if np.all(spread > 1e-6):
            return PASS
        return named(
            "color_jitter",
            ONE_FACTOR,
            f"{call_text(ctx, 'color_jitter', args)}: every image got the same {what} factor "
            f"(spread across images {float(np.min(spread)):.3g}); the jitter must differ per image",
        )

    return body
