"""Laws of topic ``cnn_architectures``: property bodies, checked with the student's own
functions (and named, where the student's output matches a known mistake)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, diagnose
from grader.checks.outputs import CACHE
from grader.checks.property import expect_close, student_outputs
from grader.checks.raises import expect_value_error
from grader.checks.reference import backward_pass, param_names
from grader.judge.student import Call
from grader.topics.cnn_architectures import inputs
from grader.topics.cnn_architectures.kinds import BLOCK_GRADS, describe, student_answers

OUT = ("out", CACHE)
FORWARD, BACKWARD = "residual_block_forward", "residual_block_backward"
TOL = 1e-12


def _ints(ctx: Context, function: str, args_list: list[tuple], name: str) -> list:
    """The student's answers for each args, structure checked against the reference's."""
    return [got[0] for got, _ in student_answers(ctx, function, args_list, (name,))]


def _evidence(ctx: Context, function: str, args: tuple, got: tuple, names: tuple) -> Observation:
    text = describe(function, param_names(ctx, function), args)
    return Observation(function, text, args, got, names)


def same_padding(count: int) -> Callable[[Context], Verdict]:
    """Stride 1 with pad (k - 1) / 2 (k odd) keeps the size."""

    def body(ctx: Context) -> Verdict:
        draws = []
        for _ in range(count):
            k = int(ctx.rng.choice([1, 3, 5, 7]))
            draws.append((int(ctx.rng.integers(k, 60)), k, 1, k // 2, False))
        got = _ints(ctx, "conv_output_size", draws, "out")
        for args, value in zip(draws, got):
            if value != args[0]:
                return expect_close(
                    ctx,
                    "conv_output_size",
                    f"'same' padding (size {args[0]}, kernel {args[1]}, stride 1, pad "
                    f"{args[3]}) keeps the size",
                    ("out",),
                    (value,),
                    (args[0],),
                    TOL,
                    _evidence(ctx, "conv_output_size", args, (value,), ("out",)),
                )
        return PASS

    return body


def kernel_too_large(count: int) -> Callable[[Context], Verdict]:
    """``count`` draws of a kernel larger than size + 2 * pad, half of them with pad 0 (where a
    message built with ``/ pad`` fails with ZeroDivisionError instead): each raises
    ValueError."""

    def body(ctx: Context) -> Verdict:
        for n in range(count):
            size = int(ctx.rng.integers(1, 12))
            pad = 0 if n % 2 == 0 else int(ctx.rng.integers(1, 3))
            kernel = size + 2 * pad + int(ctx.rng.integers(1, 4))
            stride = int(ctx.rng.integers(1, 3))
            args = (size, kernel, stride, pad, bool(n % 4 == 3))
            verdict = expect_value_error(
                ctx,
                Call("conv_output_size", args),
                describe("conv_output_size", param_names(ctx, "conv_output_size"), args),
                f"a kernel of {kernel} does not fit in {size} + 2 * {pad} = {size + 2 * pad} "
                "padded pixels: the docstring asks for a ValueError, not a size of 0 or less",
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def unknown_layer_raises(kinds: tuple[str, ...]) -> Callable[[Context], Verdict]:
    """layer_output_shape({"type": kind, ...}) raises ValueError for each unknown ``kind`` (a
    typo must not pass silently as some other layer)."""

    def body(ctx: Context) -> Verdict:
        shape = (int(ctx.rng.integers(1, 64)), int(ctx.rng.integers(4, 30)), 12)
        for kind in kinds:
            args = ({"type": kind, "kernel": 3, "out_channels": 8}, shape)
            verdict = expect_value_error(
                ctx,
                Call("layer_output_shape", args),
                describe("layer_output_shape", param_names(ctx, "layer_output_shape"), args),
                f"{kind!r} is none of the layer types of the module docstring: raise "
                "ValueError for an unknown type (a fallback that returns some shape hides "
                "typos in a layer list)",
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def identity_needs_projection(makes: tuple[Make, ...]) -> Callable[[Context], Verdict]:
    """An identity shortcut (no "ws") where the stride is not 1, or where the channels change,
    raises ValueError: one draw of each maker (each breaks one of the two conditions only)."""

    def body(ctx: Context) -> Verdict:
        for make in makes:
            x, params, block_param = make(ctx.rng)
            params = {k: v for k, v in params.items() if k not in ("ws", "gammas", "betas")}
            args = (x, params, block_param)
            F, C = params["w1"].shape[:2]
            verdict = expect_value_error(
                ctx,
                Call(FORWARD, args),
                describe(FORWARD, param_names(ctx, FORWARD), args),
                f"an identity shortcut (params without 'ws') cannot add x (C={C}) to the "
                f"block's output (F={F}, stride {block_param.get('stride', 1)}): raise "
                "ValueError when the stride is not 1 OR C != F (numpy would broadcast a "
                "one-channel x, or a 1x1 map, without any error)",
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def stacked_receptive_field(ctx: Context) -> Verdict:
    """Three stacked 3x3 convolutions (stride 1) see 7 x 7 pixels, as one 7x7 does."""
    three, one = inputs.stack(3, 3)(ctx.rng), inputs.stack(7, 1)(ctx.rng)
    got3, got7 = _ints(ctx, "receptive_fields", [three, one], "rfs")
    return expect_close(
        ctx,
        "receptive_fields",
        "three stacked 3x3 convolutions see 3, 5, then 7 pixels; one 7x7 sees 7",
        ("three 3x3", "one 7x7"),
        (got3, got7),
        ((3, 5, 7), (7,)),
        TOL,
    )


def stacked_params(ctx: Context) -> Verdict:
    """Three 3x3 convolutions C -> C (no bias) have 3 * 9 C^2 parameters, one 7x7 49 C^2."""
    C = int(ctx.rng.integers(8, 256))
    layers3, shape = inputs.stack(3, 3, C)(ctx.rng)
    layers7, _ = inputs.stack(7, 1, C)(ctx.rng)
    got = _ints(ctx, "layer_param_count", [(layers3[0], shape), (layers7[0], shape)], "count")
    return expect_close(
        ctx,
        "layer_param_count",
        f"three 3x3 convolutions {C} -> {C} without bias have 3 * 9 * {C}^2 parameters, one "
        f"7x7 has 49 * {C}^2",
        ("three 3x3", "one 7x7"),
        (3 * got[0], got[1]),
        (27 * C * C, 49 * C * C),
        TOL,
    )


def macs_are_params_times_positions(ctx: Context) -> Verdict:
    """A conv without bias costs (its parameters) x H' x W' MACs (each weight is used once per
    output position), by your own layer_param_count and layer_output_shape."""
    layer, shape = inputs.layer_args("conv, no bias")(ctx.rng)
    (macs,) = _ints(ctx, "layer_macs", [(layer, shape)], "macs")
    (params,) = _ints(ctx, "layer_param_count", [(layer, shape)], "count")
    (out_shape,) = _ints(ctx, "layer_output_shape", [(layer, shape)], "out_shape")
    return expect_close(
        ctx,
        "layer_macs",
        "MACs of a conv without bias = your layer_param_count x H' x W' of your layer_output_shape",
        ("macs",),
        (macs,),
        (params * out_shape[1] * out_shape[2],),
        TOL,
        _evidence(ctx, "layer_macs", (layer, shape), (macs,), ("macs",)),
    )


def totals_are_sums(make: Make) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        (summary,) = _ints(ctx, "network_summary", [args], "summary")
        return expect_close(
            ctx,
            "network_summary",
            'total_params and total_macs are the sums of "params" and "macs"',
            ("total_params", "total_macs"),
            (summary["total_params"], summary["total_macs"]),
            (sum(summary["params"]), sum(summary["macs"])),
            TOL,
        )

    return body


def relu_comes_last(make: Make) -> Callable[[Context], Verdict]:
    """out >= 0 everywhere: the final ReLU comes after the sum."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        got = student_outputs(ctx, FORWARD, args, OUT)
        if np.all(got[0] >= 0):
            return PASS
        return expect_close(
            ctx,
            FORWARD,
            "out >= 0 (the last operation is the ReLU, after the shortcut is added)",
            ("out",),
            got[:1],
            (np.maximum(got[0], 0.0),),
            1e-7,
            _evidence(ctx, FORWARD, args, got, OUT),
        )

    return body


def zero_last_bn_forward(make: Make) -> Callable[[Context], Verdict]:
    """gamma2 = beta2 = 0 silences the main path: an identity block returns relu(x)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        got = student_outputs(ctx, FORWARD, args, OUT)
        return expect_close(
            ctx,
            FORWARD,
            "with gamma2 = beta2 = 0 the main path is 0, so an identity block returns relu(x)",
            ("out",),
            got[:1],
            (np.maximum(args[0], 0.0),),
            1e-7,
            _evidence(ctx, FORWARD, args, got, OUT),
        )

    return body


def zero_last_bn_backward(make: Make) -> Callable[[Context], Verdict]:
    """gamma2 = beta2 = 0: dx = dout * (x > 0), and w1, gamma1, beta1, w2 get no gradient."""

    def body(ctx: Context) -> Verdict:
        run = backward_pass(ctx, FORWARD, BACKWARD, make(ctx.rng), BLOCK_GRADS)
        x, params = run.args[0], run.args[1]
        dx, grads = run.seen.got
        silent = ("w1", "gamma1", "beta1", "w2")
        names = ("dx", *(f"grads[{k!r}]" for k in silent))
        want = (run.dout * (x > 0), *(np.zeros_like(params[k]) for k in silent))
        comparisons = compare_outputs(names, (dx, *(grads[k] for k in silent)), want, 1e-7)
        if all(c.ok for c in comparisons):
            return PASS
        bad = next(c for c in comparisons if not c.ok)
        lines = [
            f"{run.seen.call}: with gamma2 = beta2 = 0 an identity block is relu(x), so dx = "
            "dout * (x > 0) and w1, gamma1, beta1 and w2 get zero gradients; that does not "
            "hold.",
            "  " + bad.describe(),
        ]
        mistake = diagnose(ctx, run.seen, 1e-7)
        if mistake:
            lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
        return Verdict(
            Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None
        )

    return body
