"""Laws of topic ``conv`` (property checks): each returns the body of a ``Property``.

The student's function is compared with itself on related inputs, so these checks hold for any
correct implementation, whatever its order of summation (tolerances are relative errors, far
above float64 roundoff and far below any real mistake).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.checks.base import Context, Make, Outcome, Verdict
from grader.checks.diagnose import Observation, diagnose
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.property import expect_close, student_outputs
from grader.checks.reference import param_names, reference_outputs
from grader.judge.student import Call, StudentFault
from grader.topics.conv.mistakes import PAD_HINT, WRONG_PAD_AXES

OUT = ("out", CACHE)
Body = Callable[[Context], Verdict]


def _out(ctx: Context, function: str, args: tuple) -> np.ndarray:
    return student_outputs(ctx, function, args, OUT)[0]


def linear_in_x(function: str, make: Make) -> Body:
    """conv(x1 + x2) == conv(x1) + conv(x2) - b: the layer is affine in x."""

    def body(ctx: Context) -> Verdict:
        x1, w, b, conv_param = make(ctx.rng)
        x2 = ctx.rng.standard_normal(x1.shape)
        f1 = _out(ctx, function, (x1, w, b, conv_param))
        f2 = _out(ctx, function, (x2, w, b, conv_param))
        f12 = _out(ctx, function, (x1 + x2, w, b, conv_param))
        return expect_close(
            ctx,
            function,
            "conv(x1 + x2) == conv(x1) + conv(x2) - b (linear in x)",
            ("out",),
            (f12,),
            (f1 + f2 - b[None, :, None, None],),
            1e-8,
        )

    return body


def translation_equivariant(function: str, make: Make, shift: tuple[int, int]) -> Body:
    """Moving the input down/right by ``shift * stride`` pixels moves the output by ``shift``.

    Compared on the output region whose windows see the same values in both inputs: rows and
    columns pushed out at the bottom/right border are excluded; at the top/left, zeros come in
    where the padding was, so that border stays comparable.
    """
    kh, kw = shift

    def body(ctx: Context) -> Verdict:
        x, w, b, conv_param = make(ctx.rng)
        stride, pad = conv_param["stride"], conv_param["pad"]
        _, _, H, W = x.shape
        HH, WW = w.shape[2:]
        dh, dw = kh * stride, kw * stride
        moved = np.zeros_like(x)
        moved[:, :, dh:, dw:] = x[:, :, : H - dh, : W - dw]
        rows = (H - dh + pad - HH) // stride + 1
        cols = (W - dw + pad - WW) // stride + 1
        assert rows >= 1 and cols >= 1, "shift too large for this input"
        out = _out(ctx, function, (x, w, b, conv_param))
        out_moved = _out(ctx, function, (moved, w, b, conv_param))
        return expect_close(
            ctx,
            function,
            f"translation equivariance (input moved by ({dh}, {dw}) pixels, stride {stride}: "
            f"output moved by ({kh}, {kw}), compared on its first {rows}x{cols} positions)",
            ("out",),
            (out_moved[:, :, kh : kh + rows, kw : kw + cols],),
            (out[:, :, :rows, :cols],),
            1e-8,
        )

    return body


def zero_padding(function: str, make: Make) -> Body:
    """conv(x, pad=p) == conv(x zero-padded on H and W by the judge, pad=0).

    A call that fails only with pad > 0 (it works on the input padded by hand) has the padding
    wrong; the usual cause is np.pad over all four axes, which makes x's channels disagree with
    w's. An output of another shape is compared with the known one-axis padding mistakes.
    """

    def body(ctx: Context) -> Verdict:
        x, w, b, conv_param = make(ctx.rng)
        pad = conv_param["pad"]
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        by_hand = _out(ctx, function, (x_pad, w, b, {**conv_param, "pad": 0}))
        args = (x, w, b, conv_param)
        call_text = describe_call(function, param_names(ctx, function), args)
        law = f"pad={pad} must equal zero padding of H and W by hand (then pad=0)"
        try:
            reply = ctx.student.call(Call(function, args, keep=[1]))
        except StudentFault as fault:
            if fault.outcome != Outcome.EXCEPTION.value:
                raise
            return Verdict(
                Outcome.WRONG,
                f"{call_text} failed: {fault.reason}\n"
                f"  but the same input zero-padded by hand works with pad=0: {law}.\n"
                f"  looks like a known mistake: {WRONG_PAD_AXES}. Hint: {PAD_HINT}",
                staff=fault.staff,
                misconception=WRONG_PAD_AXES,
            )
        got = reply.value
        if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], np.ndarray):
            if got[0].shape != by_hand.shape:
                expected = reference_outputs(ctx, function, args)
                seen = Observation(function, call_text, args, got, OUT, expected)
                mistake = diagnose(ctx, seen, 1e-8)
                lines = [
                    f"{call_text}: {law}, but the output shapes differ: "
                    f"{got[0].shape} with pad={pad}, {by_hand.shape} padded by hand."
                ]
                if mistake:
                    lines.append(
                        f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}"
                    )
                return Verdict(
                    Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None
                )
        got = conform_outputs(got, (by_hand, None), OUT, function)
        return expect_close(
            ctx,
            function,
            law,
            ("out",),
            (got[0],),
            (by_hand,),
            1e-8,
            evidence=Observation(function, call_text, args, got, OUT),
        )

    return body


def pool_shift(make: Make, c: float = 3.25) -> Body:
    """max_pool(x + c) == max_pool(x) + c, exactly (adding c keeps the order of the values)."""

    def body(ctx: Context) -> Verdict:
        x, pool_param = make(ctx.rng)
        fn = "max_pool_forward_naive"
        out = _out(ctx, fn, (x, pool_param))
        shifted = _out(ctx, fn, (x + c, pool_param))
        return expect_close(
            ctx,
            fn,
            f"max_pool(x + {c:g}) == max_pool(x) + {c:g}",
            ("out",),
            (shifted,),
            (out + c,),
            1e-12,
        )

    return body
