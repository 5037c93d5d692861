"""Input makers of topic ``cnn_architectures``: each returns ``make(rng) -> args`` for a check.

Sizes, channels, kernels and strides are drawn from the check's generator, under the condition
that names the case (a stride that does not divide the span, a padding that changes the size,
a ceil-mode window dropped by torch's rule, ...), found by rejection. Random networks are built
layer by layer with ``arith.Arith`` tracking the shape, so every kernel fits its input.

The residual block's inputs for the numeric gradients keep every ReLU input at least
``MARGIN`` away from 0 (checked with a small numpy forward of their own), so that a centered
difference never crosses a kink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.checks.base import Make
from grader.topics.cnn_architectures import nets
from grader.topics.cnn_architectures.arith import Arith

REFERENCE = Arith()
TRIES = 10_000
MARGIN = 1e-3

Args = tuple[Any, ...]


def _draw(rng: np.random.Generator, propose: Callable[[], Args], ok: Callable[..., bool]) -> Args:
    for _ in range(TRIES):
        args = propose()
        if ok(*args):
            return args
    raise AssertionError("no input met the case's condition")  # a bug in the declaration


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An int in [low, high] (both included)."""
    return int(rng.integers(low, high + 1))


# -- conv_output_size --------------------------------------------------------------------------
def _span(n: int, k: int, s: int, p: int, ceil: bool = False) -> int:
    return n + 2 * p - k


SIZE_CONDITIONS: dict[str, Callable[..., bool]] = {
    # floor differs from ceil and the padding matters
    "floor": lambda n, k, s, p, c: s > 1 and p > 0 and _span(n, k, s, p) % s != 0,
    "pad": lambda n, k, s, p, c: s == 1 and p > 0,
    "whole": lambda n, k, s, p, c: k == n + 2 * p and p > 0,
    "ceil": lambda n, k, s, p, c: (
        c
        and _span(n, k, s, p) % s != 0
        and REFERENCE.size(n, k, s, p, True) == -(-(n + 2 * p - k) // s) + 1
    ),
    "ceil_drop": lambda n, k, s, p, c: (
        c and REFERENCE.size(n, k, s, p, True) != -(-(n + 2 * p - k) // s) + 1
    ),
    "ceil_exact": lambda n, k, s, p, c: c and s > 1 and _span(n, k, s, p) % s == 0,
    "any": lambda n, k, s, p, c: True,
}


def size_args(condition: str, ceil_mode: bool = False, largest: int = 40) -> Make:
    """(size, kernel, stride, pad, ceil_mode) with pad <= kernel // 2 (torch's rule for pools)."""
    ok = SIZE_CONDITIONS[condition]

    def make(rng: np.random.Generator) -> Args:
        def propose() -> Args:
            k = _int(rng, 1, 7)
            p = _int(rng, 0, k // 2)
            s = _int(rng, 1, 4)
            n = _int(rng, max(1, k - 2 * p), largest)
            if condition == "whole":
                n = max(1, k - 2 * p)
            return n, k, s, p, ceil_mode

        return _draw(rng, propose, ok)

    return make


# -- single layers -------------------------------------------------------------------------------
def _image(rng: np.random.Generator, low: int = 4, high: int = 40) -> tuple[int, int, int]:
    return _int(rng, 1, 64), _int(rng, low, high), _int(rng, low, high)


def conv_layer(rng: np.random.Generator, pad: bool = True, bias: bool = True, k: int = 0) -> dict:
    k = k or int(rng.choice([1, 3, 5, 7]))
    layer = {"type": "conv", "out_channels": _int(rng, 1, 128), "kernel": k}
    layer["stride"] = _int(rng, 1, 3)
    if pad:
        layer["pad"] = _int(rng, max(1, k // 2 - 1), max(1, k // 2))
    if not bias:
        layer["bias"] = False
    return layer


def pool_layer(rng: np.random.Generator, ceil: bool = False, default_stride: bool = False) -> dict:
    k = _int(rng, 2, 3)
    layer: dict[str, Any] = {"type": "pool", "kernel": k}
    if not default_stride:
        layer["stride"] = _int(rng, 1, 3)
        layer["pad"] = _int(rng, 0, k // 2)
    if ceil:
        layer["ceil_mode"] = True
    return layer


def block_layer(rng: np.random.Generator, kind: str, project: bool | None) -> Callable[[int], dict]:
    """A function of the input channels C giving a block layer; ``project``: True, a projection
    (stride 2 or channels changed), False: an identity block, None: either."""

    def layer(C: int) -> dict:
        stride = 1 if project is False else int(rng.choice([1, 2]))
        F = C if project is False else _int(rng, 1, 96)
        if project and stride == 1 and F == C:
            F = C + _int(rng, 1, 32)
        if kind == "basic_block":
            return {"type": kind, "out_channels": F, "stride": stride}
        return {"type": kind, "mid_channels": _int(rng, 1, 64), "out_channels": F, "stride": stride}

    return layer


LAYERS: dict[str, Callable[[np.random.Generator], Args]] = {
    "conv": lambda rng: (conv_layer(rng), _image(rng, 7)),
    "conv, no bias": lambda rng: (conv_layer(rng, bias=False), _image(rng, 7)),
    "conv 1x1": lambda rng: (conv_layer(rng, pad=False, k=1), _image(rng)),
    "conv, defaults": lambda rng: (
        {"type": "conv", "out_channels": _int(rng, 1, 64), "kernel": 3},
        _image(rng),
    ),
    "pool": lambda rng: (pool_layer(rng), _image(rng)),
    "pool, default stride": lambda rng: (pool_layer(rng, default_stride=True), _image(rng)),
    "pool, ceil_mode": lambda rng: (pool_layer(rng, ceil=True), _image(rng)),
    "fc on a map": lambda rng: (
        {"type": "fc", "out_features": _int(rng, 1, 100)},
        _image(rng, 1, 8),
    ),
    "fc on a vector": lambda rng: (
        {"type": "fc", "out_features": _int(rng, 1, 100)},
        (_int(rng, 1, 500),),
    ),
    "fc, no bias": lambda rng: (
        {"type": "fc", "out_features": _int(rng, 1, 100), "bias": False},
        _image(rng, 1, 8),
    ),
    "bn": lambda rng: ({"type": "bn"}, _image(rng)),
    "bn on a vector": lambda rng: ({"type": "bn"}, (_int(rng, 1, 500),)),
    "relu": lambda rng: ({"type": "relu"}, _image(rng)),
    "gap": lambda rng: ({"type": "gap"}, _image(rng)),
}


def _block_case(kind: str, project: bool | None) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        shape = _image(rng, 3, 30)
        return block_layer(rng, kind, project)(shape[0]), shape

    return make


def _block_default_stride(kind: str) -> Callable[[np.random.Generator], Args]:
    """A block without a "stride" key (stride 1 by default): the identity when its channels
    stay, a projection when they change (drawn half and half)."""

    def make(rng: np.random.Generator) -> Args:
        shape = _image(rng, 3, 30)
        layer = block_layer(rng, kind, bool(rng.integers(2)))(shape[0])
        if layer["stride"] != 1:
            layer["out_channels"] = shape[0] + _int(rng, 1, 32)  # still a projection
        del layer["stride"]
        return layer, shape

    return make


for _kind in ("basic_block", "bottleneck_block"):
    LAYERS[f"{_kind}, identity"] = _block_case(_kind, False)
    LAYERS[f"{_kind}, projection"] = _block_case(_kind, True)
    LAYERS[f"{_kind}, no stride key"] = _block_default_stride(_kind)


def layer_args(*kinds: str, differs: Arith | None = None) -> Make:
    """(layer, in_shape) of one of ``kinds`` (drawn); with ``differs``, only inputs where that
    mistaken model's output shape differs from the reference's."""

    def make(rng: np.random.Generator) -> Args:
        def propose() -> Args:
            return LAYERS[kinds[_int(rng, 0, len(kinds) - 1)]](rng)

        def ok(layer: dict, shape: tuple) -> bool:
            try:
                REFERENCE.shape(layer, shape)
                return differs is None or differs.shape(layer, shape) != REFERENCE.shape(
                    layer, shape
                )
            except ValueError:
                return False

        return _draw(rng, propose, ok)

    return make


# -- networks ------------------------------------------------------------------------------------
def random_net(rng: np.random.Generator, blocks: bool, head: bool, depth: int) -> Args:
    """(layers, in_shape): a conv stem, then ``depth`` random layers (conv, pool, bn, relu, and
    basic or bottleneck blocks when ``blocks``), ending in gap + fc when ``head``."""
    in_shape = (int(rng.choice([1, 3])), _int(rng, 24, 64), _int(rng, 24, 64))
    layers = [conv_layer(rng, bias=bool(rng.integers(2)))]
    shape = REFERENCE.shape(layers[0], in_shape)
    kinds = ["conv", "pool", "bn", "relu"] + (["basic_block", "bottleneck_block"] if blocks else [])
    while len(layers) < depth + 1:
        kind = kinds[_int(rng, 0, len(kinds) - 1)]
        if kind == "conv":
            layer = conv_layer(rng, bias=bool(rng.integers(2)))
        elif kind == "pool":
            layer = pool_layer(rng, ceil=bool(rng.integers(2)))
        elif kind in ("bn", "relu"):
            layer = {"type": kind}
        else:
            layer = block_layer(rng, kind, None)(shape[0])
        try:
            next_shape = REFERENCE.shape(layer, shape)
        except ValueError:
            continue
        if min(next_shape[1:]) >= 1:
            layers.append(layer)
            shape = next_shape
    if head:
        layers += [{"type": "gap"}, {"type": "fc", "out_features": _int(rng, 2, 20)}]
    return layers, in_shape


DEFAULTS = {"stride": 1, "pad": 0, "bias": True, "ceil_mode": False}


def without_defaults(layer: dict) -> dict:
    """``layer`` with every key that holds its default value left out (a pool's stride defaults
    to its kernel, every other stride to 1): the layer as a terse declaration writes it."""
    kept = {}
    for key, value in layer.items():
        default = layer.get("kernel") if key == "stride" and layer["type"] == "pool" else None
        if value == (DEFAULTS.get(key) if default is None else default):
            continue
        kept[key] = value
    return kept


def network_args(
    blocks: bool = False, head: bool = True, depth: int = 6, terse: bool = False
) -> Make:
    """A random network (``random_net``); ``terse``: every key at its default left out, with
    (``blocks``) a basic and a bottleneck block of stride 1 after the stem and a pool of
    stride 2 = kernel before the head (where the map is 2 x 2 or more), so that most draws
    hold a conv, a pool and both blocks without their "stride" key."""

    def make(rng: np.random.Generator) -> Args:
        layers, in_shape = random_net(rng, blocks, head, depth)
        if terse:
            if blocks:  # stride 1 keeps the size: every later layer still fits
                C = _int(rng, 1, 64)
                layers[1:1] = [
                    {"type": "basic_block", "out_channels": C, "stride": 1},
                    {"type": "bottleneck_block", "mid_channels": _int(rng, 1, 32),
                     "out_channels": C, "stride": 1},
                ]  # fmt: skip
            body = len(layers) - (2 if head else 0)
            shape = tuple(in_shape)
            for layer in layers[:body]:
                shape = REFERENCE.shape(layer, shape)
            if min(shape[1:]) >= 2:  # a pool with the default stride (its kernel) last
                layers.insert(body, {"type": "pool", "kernel": 2, "stride": 2})
            layers = [without_defaults(layer) for layer in layers]
        return layers, in_shape

    return make


def famous(name: str, layers_only: bool = False) -> Make:
    """(layers, in_shape) of one of ``nets.FAMOUS`` (fresh copies: the same every draw)."""

    def make(rng: np.random.Generator) -> Args:
        layers, in_shape, _ = nets.FAMOUS[name]
        return [dict(layer) for layer in layers], in_shape

    return make


def stack(kernel: int, count: int, channels: int = 16) -> Make:
    """``count`` convolutions kernel x kernel, stride 1, "same" padding, C -> C, no bias."""

    def make(rng: np.random.Generator) -> Args:
        layer = nets.conv(channels, kernel, 1, kernel // 2, bias=False)
        return [dict(layer) for _ in range(count)], (channels, 32, 32)

    return make


# -- bottleneck and inception --------------------------------------------------------------------
def bottleneck_args(kernel: int | None = None, large: bool = False) -> Make:
    def make(rng: np.random.Generator) -> Args:
        C_in = _int(rng, 16, 1024 if large else 256)
        C_mid = _int(rng, 4, max(4, C_in // 4))
        k = kernel or int(rng.choice([3, 5]))
        H = _int(rng, 7, 56)
        return C_in, C_mid, _int(rng, 8, 256), H, _int(rng, 7, 56), k

    return make


def inception_args(fixed: tuple[tuple[int, int, int], dict] | None = None) -> Make:
    keys = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")

    def make(rng: np.random.Generator) -> Args:
        if fixed is not None:
            return fixed[0], dict(fixed[1])
        in_shape = (_int(rng, 32, 512), _int(rng, 4, 32), _int(rng, 4, 32))
        return in_shape, {k: _int(rng, 8, 256) for k in keys}

    return make


# GoogLeNet Table 1
INCEPTION_3A = ((192, 28, 28), {"1x1": 64, "3x3_reduce": 96, "3x3": 128, "5x5_reduce": 16,
                                "5x5": 32, "pool_proj": 32})  # fmt: skip
INCEPTION_5B = ((832, 7, 7), {"1x1": 384, "3x3_reduce": 192, "3x3": 384, "5x5_reduce": 48,
                              "5x5": 128, "pool_proj": 128})  # fmt: skip


# -- the residual block --------------------------------------------------------------------------
def _conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[
        :, :, ::stride, ::stride
    ]
    return np.einsum("nchwij,fcij->nfhw", win, w)


def _bn(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    return gamma[:, None, None] * (x - mean) / np.sqrt(var + eps) + beta[:, None, None]


def relu_margin(x: np.ndarray, params: dict, block_param: dict) -> float:
    """The smallest |input| of the block's two ReLUs (numpy forward of the judge's own)."""
    s, eps = block_param.get("stride", 1), block_param.get("eps", 1e-5)
    a1 = _bn(_conv(x, params["w1"], s, 1), params["gamma1"], params["beta1"], eps)
    main = _bn(_conv(np.maximum(a1, 0), params["w2"], 1, 1), params["gamma2"], params["beta2"], eps)
    shortcut = x
    if "ws" in params:
        shortcut = _bn(_conv(x, params["ws"], s, 0), params["gammas"], params["betas"], eps)
    return float(min(np.min(np.abs(a1)), np.min(np.abs(main + shortcut))))


def block_args(
    N: int,
    C: int,
    F: int,
    H: int,
    W: int | None = None,
    stride: int = 1,
    away_from_kinks: bool = False,
    zero_last_bn: bool = False,
    given: tuple[str, ...] = ("stride", "eps"),
) -> Make:
    """(x, params, block_param): x standard normal, conv weights scaled by 1 / sqrt(fan in),
    gammas in [0.5, 1.5], betas small; a projection when stride != 1 or C != F. With
    ``zero_last_bn``, gamma2 = beta2 = 0 (the main path is 0: out = relu(shortcut)).
    block_param holds the keys ``given`` (a key left out takes its default: stride 1, eps
    1e-5)."""
    W = W or H
    project = stride != 1 or C != F
    assert "stride" in given or stride == 1, "an omitted stride is 1"

    def draw(rng: np.random.Generator) -> Args:
        x = rng.standard_normal((N, C, H, W))
        params = {
            "w1": rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C),
            "gamma1": rng.uniform(0.5, 1.5, F),
            "beta1": 0.2 * rng.standard_normal(F),
            "w2": rng.standard_normal((F, F, 3, 3)) / np.sqrt(9 * F),
            "gamma2": rng.uniform(0.5, 1.5, F),
            "beta2": 0.2 * rng.standard_normal(F),
        }
        if zero_last_bn:
            params["gamma2"], params["beta2"] = np.zeros(F), np.zeros(F)
        if project:
            params["ws"] = rng.standard_normal((F, C, 1, 1)) / np.sqrt(C)
            params["gammas"] = rng.uniform(0.5, 1.5, F)
            params["betas"] = 0.2 * rng.standard_normal(F)
        block_param = {"stride": stride, "eps": 1e-5}
        return x, params, {k: v for k, v in block_param.items() if k in given}

    def make(rng: np.random.Generator) -> Args:
        if not away_from_kinks:
            return draw(rng)
        return _draw(rng, lambda: draw(rng), lambda *args: relu_margin(*args) > MARGIN)

    return make
