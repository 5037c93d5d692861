"""The batchnorm checks catch realistic bugs: each mutant of solutions/batchnorm.py loses points
on the function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics.batchnorm import mistakes as m

BN_UPDATE = (
    'momentum * running_mean + (1 - momentum) * mean\n    bn_param["running_var"] = '
    "momentum * running_var + (1 - momentum) * var"
)
SPATIAL_BODY = (
    "x.transpose(0, 2, 3, 1).reshape(-1, C)\n"
    "    out, cache = batchnorm_forward(columns, gamma, beta, bn_param)\n"
    "    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)"
)
GROUPS = (
    "x.reshape(N, G, C // G, H, W)\n"
    "    mean = groups.mean(axis=(2, 3, 4), keepdims=True)\n"
    "    var = groups.var(axis=(2, 3, 4), keepdims=True)"
)
LN_DX = """dx = inv_std * (
        dx_hat
        - dx_hat.mean(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True)
    )"""
LN_STATS = "x.mean(axis=1, keepdims=True)\n    var = x.var(axis=1, keepdims=True)"


def bn(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("batchnorm", function, old, new, misconception)


MUTANTS = [
    # edges: features near 1e8
    bn(
        "batchnorm_forward",
        "var = x.var(axis=0)",
        "var = np.mean(x**2, axis=0) - mean**2",
        m.ONE_PASS_VAR,
    ),
    bn(
        "layernorm_forward",
        "var = x.var(axis=1, keepdims=True)",
        "var = np.mean(x**2, axis=1, keepdims=True) - mean**2",
        m.ONE_PASS_VAR,
    ),
    # named mistakes
    bn("batchnorm_forward", "var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)", m.UNBIASED),
    bn(
        "batchnorm_forward",
        "return gamma * x_hat + beta, None",
        "return x_hat, None",
        m.TEST_NO_AFFINE,
    ),
    bn(
        "batchnorm_forward",
        BN_UPDATE,
        BN_UPDATE.replace(
            "momentum * running_mean + (1 - momentum) * mean",
            "(1 - momentum) * running_mean + momentum * mean",
        ).replace(
            "momentum * running_var + (1 - momentum) * var",
            "(1 - momentum) * running_var + momentum * var",
        ),
        m.MOMENTUM_SWAPPED,
    ),
    bn(
        "spatial_batchnorm_forward",
        SPATIAL_BODY,
        SPATIAL_BODY.replace("x.transpose(0, 2, 3, 1).reshape(-1, C)", "x.reshape(-1, C)").replace(
            "out.reshape(N, H, W, C).transpose(0, 3, 1, 2)", "out.reshape(N, C, H, W)"
        ),
        m.SPATIAL_AXES,
    ),
    bn(
        "spatial_groupnorm_forward",
        GROUPS,
        GROUPS.replace("(N, G, C // G, H, W)", "(N, C // G, G, H, W)").replace(
            "(2, 3, 4)", "(1, 3, 4)"
        ),
        m.GROUPS_STRIDED,
    ),
    bn("layernorm_forward", LN_STATS, LN_STATS.replace("axis=1", "axis=0"), m.LN_OVER_BATCH),
    bn(
        "batchnorm_backward_alt",
        "dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)",
        "dx = dout * gamma / np.sqrt(var + eps)",
        m.CONSTANT_STATS,
    ),
    bn("batchnorm_backward", "dx = dcentered + dmean / N", "dx = dx_hat / std", m.CONSTANT_STATS),
    bn("layernorm_backward", LN_DX, "dx = inv_std * dx_hat", m.CONSTANT_STATS),
    # other realistic bugs
    bn("batchnorm_forward", 'bn_param.get("momentum", 0.9)', 'bn_param.get("momentum", 0.99)'),
    bn("batchnorm_forward", 'if mode not in ("train", "test"):', "if False:"),
    bn("batchnorm_forward", 'bn_param.get("eps", 1e-5)', "1e-5"),
    bn(
        "batchnorm_forward",
        'bn_param["running_mean"] = momentum',
        'bn_param = dict(bn_param)\n    bn_param["running_mean"] = momentum',
    ),
    bn("batchnorm_backward", "dx = dcentered + dmean / N", "dx = dcentered + dmean"),
    bn("batchnorm_backward_alt", "(N * dout - dbeta", "(dout - dbeta"),
    bn("layernorm_backward", "dgamma = (dout * x_hat).sum(axis=0)", "dgamma = dout.sum(axis=0)"),
    bn(
        "spatial_batchnorm_backward",
        "dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
        "dx = dx.reshape(N, C, H, W)",
    ),
    bn(
        "spatial_groupnorm_backward",
        "dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)",
        "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))",
    ),
    bn("spatial_groupnorm_backward", "- dx_hat.mean(axis=2, keepdims=True)", ""),
    bn("spatial_groupnorm_forward", 'gn_param.get("eps", 1e-5)', "1e-5"),
]

# functions whose reference calls the mutated one, or uses its cache
CALLERS = {
    "batchnorm_forward": {
        "batchnorm_backward",
        "batchnorm_backward_alt",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
    },
    "batchnorm_backward_alt": {"spatial_batchnorm_backward"},
    "layernorm_forward": {"layernorm_backward"},
    "spatial_batchnorm_forward": {"spatial_batchnorm_backward"},
    "spatial_groupnorm_forward": {"spatial_groupnorm_backward"},
}


# where the reference delegates, the same mistake must be named in the delegating function too
TWINS = {
    "batchnorm_forward": "spatial_batchnorm_forward",
    "batchnorm_backward_alt": "spatial_batchnorm_backward",
}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    results = assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))
    twin = TWINS.get(mutant.function)
    if mutant.misconception and (twin, mutant.misconception) in DECLARED:
        named = {r.misconception for r in results if r.function == twin and not r.passed}
        assert mutant.misconception in named, f"{twin}: named {named}"


DECLARED = {(mc.function, mc.name) for mc in m.MISCONCEPTIONS}


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    named |= {(TWINS[f], n) for f, n in named if f in TWINS}
    assert not DECLARED - named, f"misconceptions without a mutant: {sorted(DECLARED - named)}"


def test_running_statistics_stored_in_a_copy_get_a_hint(course, tmp_path):
    copy_mutant = next(mu for mu in MUTANTS if "dict(bn_param)" in mu.new)
    results = assert_caught(course, tmp_path, copy_mutant, CALLERS["batchnorm_forward"])
    train = next(r for r in results if r.check_id == "batchnorm/batchnorm_forward: train, N=8 D=5")
    assert "running_mean differs from the reference" in train.message
    assert "not in a copy" in train.message
