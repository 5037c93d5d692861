"""Topic ``batchnorm``: judge-side models of the known mistakes, and their names and hints.

Each model gets the inputs of the check that failed and returns what the mistaken code would
return, in the layout that check compares:

- ``batchnorm_forward`` / ``spatial_batchnorm_forward``: ``(out, running_mean, running_var)``,
  the running statistics being those the call leaves in ``bn_param`` (see
  ``grader.topics.batchnorm.state``);
- ``layernorm_forward`` / ``spatial_groupnorm_forward``: ``(out, cache)`` (the cache is never
  compared);
- backward functions: ``(dx, dgamma, dbeta)`` from ``(dout, *forward_args)``.

A model raises ValueError where its mistake does not apply (for example a test-mode mistake on
train-mode inputs); the diagnosis then skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Misconception

UNBIASED = "unbiased batch variance (ddof=1)"
ONE_PASS_VAR = "variance as mean(x**2) - mean(x)**2 (cancels for features far from 0)"
TEST_NO_AFFINE = "test mode without gamma and beta"
MOMENTUM_SWAPPED = "running average with momentum and 1 - momentum swapped"
SPATIAL_AXES = "spatial batchnorm statistics over the wrong axes"
GROUPS_STRIDED = "groups made of strided channels instead of consecutive ones"
LN_OVER_BATCH = "layernorm statistics over the batch instead of the features"
CONSTANT_STATS = "backward treats the mean and variance as constants"


def bn_model(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
    ddof: int = 0,
    swapped: bool = False,
    affine_in_test: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation of x (M, D) with a chosen mistake: (out, running_mean, running_var)."""
    mode = bn_param["mode"]
    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(D))
    rv = bn_param.get("running_var", np.zeros(D))
    if mode == "test":
        out = (x - rm) / np.sqrt(rv + eps)
        return (gamma * out + beta if affine_in_test else out), rm, rv
    if mode != "train":
        raise ValueError(mode)
    mean, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
    out = gamma * (x - mean) / np.sqrt(var + eps) + beta
    old, new = (1 - m, m) if swapped else (m, 1 - m)
    return out, old * rm + new * mean, old * rv + new * var


def _columns(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _spatial(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any], **mistake: Any
) -> tuple:
    """Spatial batch normalisation through bn_model on the (N*H*W, C) layout."""
    N, C, H, W = x.shape
    out, rm, rv = bn_model(_columns(x), gamma, beta, bn_param, **mistake)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), rm, rv


def _train_only(model: Callable[..., tuple]) -> Callable[..., tuple]:
    def variant(
        ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
    ) -> tuple:
        if bn_param["mode"] != "train":
            raise ValueError("a train-mode mistake")
        return model(x, gamma, beta, bn_param)

    return variant


def _test_only(model: Callable[..., tuple]) -> Callable[..., tuple]:
    def variant(
        ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
    ) -> tuple:
        if bn_param["mode"] != "test":
            raise ValueError("a test-mode mistake")
        return model(x, gamma, beta, bn_param)

    return variant


def _spatial_reshape_without_transpose(
    ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple:
    """x.reshape(-1, C) straight from (N, C, H, W): each column mixes channels."""
    N, C, H, W = x.shape
    out, rm, rv = bn_model(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), rm, rv


def _spatial_stats_over(axes: tuple[int, ...]) -> Callable[..., tuple]:
    """Statistics over ``axes`` of (N, C, H, W) instead of (0, 2, 3); gamma, beta per channel."""

    def variant(
        ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
    ) -> tuple:
        if bn_param["mode"] != "train":
            raise ValueError("a train-mode mistake")
        eps = bn_param.get("eps", 1e-5)
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        C = x.shape[1]
        out = gamma.reshape(1, C, 1, 1) * (x - mean) / np.sqrt(var + eps)
        return out + beta.reshape(1, C, 1, 1), None, None

    return variant


def _groupnorm_strided(
    ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict
) -> tuple:
    """Groups of channels {g, g + G, g + 2G, ...}: x.reshape(N, C // G, G, H, W)."""
    N, C, H, W = x.shape
    eps = gn_param.get("eps", 1e-5)
    groups = x.reshape(N, C // G, G, H, W)
    mean = groups.mean(axis=(1, 3, 4), keepdims=True)
    var = groups.var(axis=(1, 3, 4), keepdims=True)
    x_hat = ((groups - mean) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma * x_hat + beta, None


def _layernorm_over_batch(
    ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple:
    eps = ln_param.get("eps", 1e-5)
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    return gamma * x_hat + beta, None


def _bn_backward_constant_stats(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict,
) -> tuple:
    """dx = dout * gamma / sqrt(var + eps): the paths through the batch mean and var dropped."""
    if bn_param["mode"] != "train":
        raise ValueError("train mode only")
    eps = bn_param.get("eps", 1e-5)
    mean, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return dout * gamma / np.sqrt(var + eps), (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def _spatial_backward_constant_stats(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict,
) -> tuple:
    N, C, H, W = x.shape
    dx, dgamma, dbeta = _bn_backward_constant_stats(
        ref, _columns(dout), _columns(x), gamma, beta, bn_param
    )
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def _ln_backward_constant_stats(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict,
) -> tuple:
    eps = ln_param.get("eps", 1e-5)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return dout * gamma / np.sqrt(var + eps), (dout * x_hat).sum(axis=0), dout.sum(axis=0)


_HINTS = {
    UNBIASED: "batch normalisation divides by N: use x.var(axis=0) (ddof=0), in the output "
    "and in the running variance",
    TEST_NO_AFFINE: "at test time, out = gamma * (x - running_mean) / sqrt(running_var + eps) "
    "+ beta: the learned scale and shift still apply",
    MOMENTUM_SWAPPED: "running = momentum * running + (1 - momentum) * batch statistic "
    "(momentum 0.9 keeps 90% of the old value)",
    SPATIAL_AXES: "one mean and variance per channel over axes (0, 2, 3): transpose x to "
    "(N, H, W, C) before reshaping to (N*H*W, C), and transpose back",
    GROUPS_STRIDED: "group g holds channels g*C//G .. (g+1)*C//G - 1: reshape x to "
    "(N, G, C // G, H, W), not (N, C // G, G, H, W)",
    LN_OVER_BATCH: "layer normalisation normalises each example over its features: "
    "mean and var along axis=1 (keepdims=True), not axis=0",
    ONE_PASS_VAR: "compute the variance from the centred values, np.mean((x - mean)**2) or "
    "x.var(axis=...): with features near 1e8, mean(x**2) and mean(x)**2 agree in every digit "
    "float64 has and their difference is noise (even negative)",
    CONSTANT_STATS: "the batch mean and variance depend on every x[i]: add their gradient "
    "paths, e.g. dx = gamma / (N * std) * (N * dout - sum(dout) - x_hat * sum(dout * x_hat))",
}


def _one_pass_bn(
    ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple:
    """batchnorm_forward (train) with the one-pass variance: out only (compare it alone)."""
    if bn_param.get("mode") != "train":
        raise ValueError("train mode only")
    eps = bn_param.get("eps", 1e-5)
    mean = x.mean(axis=0)
    with np.errstate(all="ignore"):
        var = np.mean(x**2, axis=0) - mean**2
        return (gamma * (x - mean) / np.sqrt(var + eps) + beta, None, None)


def _one_pass_ln(
    ref: ModuleType, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple:
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        var = np.mean(x**2, axis=1, keepdims=True) - mean**2
        return (gamma * (x - mean) / np.sqrt(var + eps) + beta, None)


def _m(
    function: str,
    name: str,
    variant: Callable[..., Any],
    compare: tuple[str, ...] | None = None,
) -> Misconception:
    return Misconception(function, name, _HINTS[name], variant, compare)


def _bn_mistakes(function: str, model: Callable[..., tuple]) -> list[Misconception]:
    return [
        _m(function, UNBIASED, _train_only(lambda *a: model(*a, ddof=1)), compare=("out",)),
        _m(function, TEST_NO_AFFINE, _test_only(lambda *a: model(*a, affine_in_test=False))),
        _m(
            function,
            MOMENTUM_SWAPPED,
            _train_only(lambda *a: model(*a, swapped=True)),
            compare=("running_mean",),  # names it even next to a variance mistake
        ),
    ]


MISCONCEPTIONS = (
    *_bn_mistakes("batchnorm_forward", bn_model),
    *_bn_mistakes("spatial_batchnorm_forward", _spatial),
    _m("spatial_batchnorm_forward", SPATIAL_AXES, _spatial_reshape_without_transpose),
    _m("spatial_batchnorm_forward", SPATIAL_AXES, _spatial_stats_over((0,)), ("out",)),
    _m("spatial_batchnorm_forward", SPATIAL_AXES, _spatial_stats_over((2, 3)), ("out",)),
    _m("spatial_batchnorm_forward", SPATIAL_AXES, _spatial_stats_over((0, 2)), ("out",)),
    _m("spatial_groupnorm_forward", GROUPS_STRIDED, _groupnorm_strided),
    _m("layernorm_forward", LN_OVER_BATCH, _layernorm_over_batch),
    _m("batchnorm_forward", ONE_PASS_VAR, _one_pass_bn, ("out",)),
    _m("layernorm_forward", ONE_PASS_VAR, _one_pass_ln, ("out",)),
    _m("batchnorm_backward", CONSTANT_STATS, _bn_backward_constant_stats),
    _m("batchnorm_backward_alt", CONSTANT_STATS, _bn_backward_constant_stats),
    _m("spatial_batchnorm_backward", CONSTANT_STATS, _spatial_backward_constant_stats),
    _m("layernorm_backward", CONSTANT_STATS, _ln_backward_constant_stats),
)
