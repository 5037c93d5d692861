"""Known mistakes of topic ``cnn_architectures``: judge-side models of each, and the hint to give.

A variant of a function with one output returns a 1-tuple (that output may itself be a tuple:
a shape, the receptive fields). The arithmetic mistakes are modelled by ``arith.Arith`` with
one switch changed, carried through every function that depends on the mistaken piece (a
student's network_summary uses the student's own layer functions). The residual block's
mistakes are modelled with the given conv and BN helpers of the reference module; each has a
forward model and the backward pass of that same model (a student whose forward adds the
shortcut after the ReLU differentiates that). The variants receive the reference module and the
inputs of the failed call (``(dout, x, params, block_param)`` for the backward pass).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Misconception
from grader.topics.cnn_architectures.arith import Arith

BIAS_FORGOTTEN = "bias forgotten in the parameter count"
PAD_IGNORED = "padding ignored in the output size"
FLOOR_CEIL = "floor and ceil swapped in the output size"
NO_STRIDE_PRODUCT = "receptive field grown without the stride product"
BN_RUNNING_STATS = "BN's running statistics counted as parameters"
NO_PROJECTION = "projection shortcut missing when channels change"
AFTER_RELU = "shortcut added after the final ReLU"
REDUCTION_FREE = "cost of the 1x1 reduction left out"
POOL_BRANCH = "pool branch left out of the inception output"
REDUCE_COUNTED = "1x1 reductions counted as inception outputs"

HINTS = {
    BIAS_FORGOTTEN: "a conv layer with bias=True has F * C * k * k weights PLUS F biases (an fc "
    "layer M * D plus M); only layers declared with bias=False (as in ResNet, where BN follows) "
    "have none",
    PAD_IGNORED: "the padding adds pad zeros on EACH side: out = 1 + (size + 2*pad - kernel) // "
    "stride",
    FLOOR_CEIL: "output sizes round down (floor division //) unless a pool says ceil_mode=True; "
    "then they round up, and a last window starting in the right padding is dropped",
    NO_STRIDE_PRODUCT: "a kernel k after layers whose strides multiply to j adds (k - 1) * j "
    "input pixels, not k - 1: keep the running product of the strides (the jump)",
    BN_RUNNING_STATS: "BN has 2 * C parameters (gamma and beta); the running mean and variance "
    "are buffers, updated without gradients, and not counted",
    NO_PROJECTION: "when the stride is not 1 or the channels change, x cannot be added as it is: "
    "the shortcut is a 1x1 convolution (with the block's stride) followed by BN, and it adds "
    "C * F + 2 * F parameters",
    AFTER_RELU: "the shortcut joins before the last ReLU: out = relu(bn2(conv2(...)) + "
    "shortcut), so out is never negative; the backward pass sends dout * (pre > 0) down both paths",
    REDUCTION_FREE: "the 1x1 reduction is a convolution too: it costs H * W * C_mid * C_in MACs, "
    "on top of the k x k convolution on C_mid channels",
    POOL_BRANCH: "an inception module concatenates FOUR branches: 1x1, 3x3, 5x5 and the pool "
    "projection (a 1x1 after the 3x3 max pool)",
    REDUCE_COUNTED: "the 1x1 reductions before the 3x3 and 5x5 convolutions feed those "
    "convolutions; only the four branch outputs are concatenated",
}


# -- arithmetic ------------------------------------------------------------------------------------
def _size(model: Arith) -> Callable[..., Any]:
    def variant(
        ref: ModuleType, size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = False
    ) -> int:
        return model.size(size, kernel, stride, pad, ceil_mode)

    return variant


def _layer(model: Arith, method: str) -> Callable[..., Any]:
    def variant(ref: ModuleType, layer: dict, in_shape: tuple) -> tuple:
        return (getattr(model, method)(layer, tuple(in_shape)),)  # one output, maybe a tuple

    return variant


def _network(model: Arith, method: str) -> Callable[..., Any]:
    def variant(ref: ModuleType, layers: list, in_shape: tuple) -> tuple:
        return (getattr(model, method)(layers, tuple(in_shape)),)

    return variant


def _bottleneck_free(
    ref: ModuleType, C_in: int, C_mid: int, C_out: int, H: int, W: int, kernel: int
) -> tuple:
    direct = H * W * C_out * kernel * kernel * C_in
    reduced = H * W * C_out * kernel * kernel * C_mid
    return direct, reduced, direct / reduced


def _inception(extra: Callable[[dict], int]) -> Callable[..., Any]:
    def variant(ref: ModuleType, in_shape: tuple, config: dict) -> tuple:
        (channels, H, W), params, macs = ref.inception_module(in_shape, config)
        return (channels + extra(config), H, W), params, macs

    return variant


# -- the residual block ----------------------------------------------------------------------------
def _block(
    ref: ModuleType,
    x: np.ndarray,
    params: dict,
    block_param: dict,
    mode: str,
    dout: np.ndarray | None = None,
) -> tuple:
    """The block as a mistaken student writes it: ``mode`` is "after_relu" (out = relu(main) +
    shortcut), "dropped" (no shortcut where a projection is due) or "broadcast" (x added without
    projection: numpy broadcasts a one-channel x over the F channels). Returns (out, None), or
    (dx, grads) of the same model when ``dout`` is given."""
    stride, eps = block_param.get("stride", 1), block_param.get("eps", 1e-5)
    project = "ws" in params
    if mode in ("dropped", "broadcast") and not project:
        raise ValueError("the mistake shows only where a projection is due")
    h1, conv1 = ref.conv2d_forward(x, params["w1"], stride, 1)
    a1, bn1 = ref.batchnorm2d_forward(h1, params["gamma1"], params["beta1"], eps)
    h2, conv2 = ref.conv2d_forward(np.maximum(a1, 0.0), params["w2"], 1, 1)
    main, bn2 = ref.batchnorm2d_forward(h2, params["gamma2"], params["beta2"], eps)
    shortcut, conv_s, bn_s = x, None, None
    if mode == "dropped":
        shortcut = np.zeros_like(main)
    elif project and mode == "after_relu":
        hs, conv_s = ref.conv2d_forward(x, params["ws"], stride, 0)
        shortcut, bn_s = ref.batchnorm2d_forward(hs, params["gammas"], params["betas"], eps)
    if mode == "after_relu":
        out = np.maximum(main, 0.0) + shortcut
    else:
        pre = main + shortcut  # "broadcast" raises here unless x has one channel and stride 1
        out = np.maximum(pre, 0.0)
    if dout is None:
        return out, None
    if mode == "after_relu":
        dmain, dshortcut = dout * (main > 0), dout
    else:
        dmain = dshortcut = dout * (pre > 0)
    dh2, dgamma2, dbeta2 = ref.batchnorm2d_backward(dmain, bn2)
    dr1, dw2 = ref.conv2d_backward(dh2, conv2)
    dh1, dgamma1, dbeta1 = ref.batchnorm2d_backward(dr1 * (a1 > 0), bn1)
    dx, dw1 = ref.conv2d_backward(dh1, conv1)
    grads = {"w1": dw1, "gamma1": dgamma1, "beta1": dbeta1}
    grads.update(w2=dw2, gamma2=dgamma2, beta2=dbeta2)
    if conv_s is not None:
        dhs, dgammas, dbetas = ref.batchnorm2d_backward(dshortcut, bn_s)
        dxs, dws = ref.conv2d_backward(dhs, conv_s)
        grads.update(ws=dws, gammas=dgammas, betas=dbetas)
        return dx + dxs, grads
    if project:  # the projection's parameters get no gradient
        grads.update({k: np.zeros_like(params[k]) for k in ("ws", "gammas", "betas")})
    if mode == "dropped":
        return dx, grads
    if mode == "broadcast":  # x (N, 1, H, W) was added to each of the F channels
        return dx + dshortcut.sum(axis=1, keepdims=True), grads
    return dx + dshortcut, grads


def _block_forward(mode: str) -> Callable[..., Any]:
    def variant(ref: ModuleType, x: np.ndarray, params: dict, block_param: dict) -> tuple:
        return _block(ref, x, params, block_param, mode)

    return variant


def _block_backward(mode: str) -> Callable[..., Any]:
    def variant(
        ref: ModuleType, dout: np.ndarray, x: np.ndarray, params: dict, block_param: dict
    ) -> tuple:
        return _block(ref, x, params, block_param, mode, dout)

    return variant


# -- the declarations ------------------------------------------------------------------------------
def _m(function: str, name: str, variant: Callable[..., Any], **kw: Any) -> Misconception:
    return Misconception(function, name, HINTS[name], variant, **kw)


NO_BIAS, NO_PAD, FLIPPED = Arith(bias=False), Arith(pad=False), Arith(flip_rounding=True)
NO_JUMP, NO_PROJ, BN4 = (
    Arith(stride_product=False),
    Arith(projection=False),
    Arith(bn_per_channel=4),
)
SUMMARY = "network_summary"

MISCONCEPTIONS = (
    _m("conv_output_size", PAD_IGNORED, _size(NO_PAD)),
    _m("conv_output_size", FLOOR_CEIL, _size(FLIPPED)),
    _m("layer_output_shape", PAD_IGNORED, _layer(NO_PAD, "shape")),
    _m("layer_output_shape", FLOOR_CEIL, _layer(FLIPPED, "shape")),
    _m("layer_param_count", BIAS_FORGOTTEN, _layer(NO_BIAS, "params")),
    _m("layer_param_count", BN_RUNNING_STATS, _layer(BN4, "params")),
    _m("layer_param_count", NO_PROJECTION, _layer(NO_PROJ, "params")),
    _m("layer_macs", PAD_IGNORED, _layer(NO_PAD, "macs")),
    _m("layer_macs", FLOOR_CEIL, _layer(FLIPPED, "macs")),
    _m("layer_macs", NO_PROJECTION, _layer(NO_PROJ, "macs")),
    _m("receptive_fields", NO_STRIDE_PRODUCT, _network(NO_JUMP, "rfs")),
    _m(SUMMARY, BIAS_FORGOTTEN, _network(NO_BIAS, "summary")),
    _m(SUMMARY, BN_RUNNING_STATS, _network(BN4, "summary")),
    _m(SUMMARY, NO_PROJECTION, _network(NO_PROJ, "summary")),
    _m(SUMMARY, PAD_IGNORED, _network(NO_PAD, "summary")),
    _m(SUMMARY, FLOOR_CEIL, _network(FLIPPED, "summary")),
    _m(SUMMARY, NO_STRIDE_PRODUCT, _network(NO_JUMP, "summary")),
    _m("bottleneck_cost", REDUCTION_FREE, _bottleneck_free),
    _m(
        "inception_module",
        POOL_BRANCH,
        _inception(lambda c: -c["pool_proj"]),
        compare=("out_shape",),
    ),
    _m(
        "inception_module",
        REDUCE_COUNTED,
        _inception(lambda c: c["3x3_reduce"] + c["5x5_reduce"]),
        compare=("out_shape",),
    ),
    _m("residual_block_forward", AFTER_RELU, _block_forward("after_relu")),
    _m("residual_block_forward", NO_PROJECTION, _block_forward("dropped")),
    _m("residual_block_forward", NO_PROJECTION, _block_forward("broadcast")),
    _m("residual_block_backward", AFTER_RELU, _block_backward("after_relu")),
    _m("residual_block_backward", NO_PROJECTION, _block_backward("dropped")),
    _m("residual_block_backward", NO_PROJECTION, _block_backward("broadcast")),
)
