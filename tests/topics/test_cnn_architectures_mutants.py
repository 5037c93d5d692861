"""The cnn_architectures checks catch realistic bugs: each mutant of
solutions/cnn_architectures.py loses points on the function it breaks (and on the functions that
call it), and where the bug is a known misconception the feedback names it. Also: the judge's
model of the arithmetic (``arith.Arith``), with no mistake switched on, is the reference."""

from __future__ import annotations

import numpy as np
import pytest
from mutation import Mutant, assert_caught, grade_mutant

from grader.topics.cnn_architectures import inputs, nets
from grader.topics.cnn_architectures import mistakes as m
from grader.topics.cnn_architectures.arith import Arith


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("cnn_architectures", function, old, new, misconception)


SIZE, SHAPE, PARAMS, MACS = (
    "conv_output_size",
    "layer_output_shape",
    "layer_param_count",
    "layer_macs",
)
RFS, SUMMARY = "receptive_fields", "network_summary"
FORWARD, BACKWARD = "residual_block_forward", "residual_block_backward"
CONV_SIZES = "sizes = [conv_output_size(n, k, stride, pad) for n in (H, W)]"
POOL_SIZES = "sizes = [conv_output_size(n, k, stride, pad, ceil_mode) for n in (H, W)]"
CHANNELS = 'channels = config["1x1"] + config["3x3"] + config["5x5"] + config["pool_proj"]'
SUM = "pre = main + shortcut\n    out = np.maximum(pre, 0.0)"

MUTANTS = [
    # named mistakes
    mutant(SIZE, "span = size + 2 * pad - kernel", "span = size - kernel", m.PAD_IGNORED),
    mutant(SIZE, "out = span // stride + 1", "out = -(-span // stride) + 1", m.FLOOR_CEIL),
    mutant(SIZE, "out = -(-span // stride) + 1", "out = span // stride + 1", m.FLOOR_CEIL),
    mutant(SHAPE, CONV_SIZES, CONV_SIZES.replace("pad)", "0)"), m.PAD_IGNORED),
    mutant(SHAPE, POOL_SIZES, POOL_SIZES.replace("ceil_mode)", "not ceil_mode)"), m.FLOOR_CEIL),
    mutant(
        PARAMS,
        'return int(F * C * k * k + (F if layer.get("bias", True) else 0))',
        "return int(F * C * k * k)",
        m.BIAS_FORGOTTEN,
    ),
    mutant(
        PARAMS,
        'return int(M * D + (M if layer.get("bias", True) else 0))',
        "return int(M * D)",
        m.BIAS_FORGOTTEN,
    ),
    mutant(PARAMS, "return 2 * C", "return 4 * C", m.BN_RUNNING_STATS),
    mutant(PARAMS, "if stride != 1 or C != F:", "if stride != 1:", m.NO_PROJECTION),
    mutant(
        MACS,
        "F, H_out, W_out = layer_output_shape(layer, in_shape)",
        'F, H_out, W_out = layer_output_shape({**layer, "pad": 0}, in_shape)',
        m.PAD_IGNORED,
    ),
    mutant(MACS, "shortcut = C * F if project else 0", "shortcut = 0", m.NO_PROJECTION),
    mutant(
        RFS,
        "r += (k - 1) * j\n            j *= stride",
        "r += k - 1\n            j *= stride",
        m.NO_STRIDE_PRODUCT,
    ),
    mutant(
        "bottleneck_cost",
        "reduced = H * W * C_mid * C_in + H * W",
        "reduced = H * W",
        m.REDUCTION_FREE,
    ),
    mutant(
        "inception_module", CHANNELS, CHANNELS.replace(' + config["pool_proj"]', ""), m.POOL_BRANCH
    ),
    mutant("inception_module", CHANNELS, CHANNELS + " + r3 + r5", m.REDUCE_COUNTED),
    mutant(FORWARD, SUM, "pre = main\n    out = np.maximum(pre, 0.0) + shortcut", m.AFTER_RELU),
    mutant(FORWARD, 'if "ws" in params:\n        hs', "if False:\n        hs", m.NO_PROJECTION),
    mutant(
        FORWARD,
        "pre = main + shortcut",
        'pre = main if "ws" in params else main + shortcut',
        m.NO_PROJECTION,
    ),
    # other realistic bugs
    mutant(SIZE, "if (out - 1) * stride >= size + pad:", "if False:"),
    mutant(SHAPE, 'stride, pad = layer.get("stride", k)', 'stride, pad = layer.get("stride", 1)'),
    mutant(SHAPE, 'return (int(layer["out_features"]),)', "return (int(np.prod(in_shape)),)"),
    mutant(PARAMS, "D, M = int(np.prod(in_shape))", "D, M = int(in_shape[0])"),
    mutant(PARAMS, "count = 9 * C * F + 9 * F * F", "count = 9 * C * F + 9 * C * F"),
    mutant(MACS, "return H * W * C * M", "return H_out * W_out * C * M"),
    mutant(MACS, "return F * H_out * W_out * C * k * k", "return F * H_out * W_out * C * k"),
    mutant(RFS, "r += (height - 1) * j", "r += 0"),
    mutant(RFS, "            r += 2 * j\n        elif", "            pass\n        elif"),
    mutant(
        SUMMARY,
        "params.append(layer_param_count(layer, shape))\n"
        "        macs.append(layer_macs(layer, shape))\n"
        "        shape = layer_output_shape(layer, shape)",
        "shape = layer_output_shape(layer, shape)\n"
        "        params.append(layer_param_count(layer, shape))\n"
        "        macs.append(layer_macs(layer, shape))",
    ),
    mutant(SUMMARY, '"total_macs": int(sum(macs))', '"total_macs": int(sum(params))'),
    mutant("bottleneck_cost", "float(direct / reduced)", "float(reduced / direct)"),
    mutant("inception_module", '(r5, config["5x5"], 5)', '(r5, config["5x5"], 3)'),
    mutant(FORWARD, 'eps = block_param.get("eps", 1e-5)', "eps = 0.0"),
    mutant(
        FORWARD,
        'conv2d_forward(x, params["w1"], stride, 1)',
        'conv2d_forward(x, params["w1"], 1, 1)',
    ),
    mutant(FORWARD, "r1 = np.maximum(a1, 0.0)", "r1 = a1"),
    mutant(BACKWARD, "da1 = dr1 * (a1 > 0)", "da1 = dr1"),
    mutant(BACKWARD, "dx = dx + dpre", "dx = dx"),
    mutant(BACKWARD, "dx = dx + dxs", "dx = dxs"),
    mutant(BACKWARD, "dpre = dout * (pre > 0)", "dpre = dout"),
    # answers of the wrong structure: bad_output, never a grader fault
    mutant(SHAPE, "return (int(C), 1, 1)", "return (int(C), 1)"),
    mutant(RFS, "return tuple(found)", "return tuple(str(r) for r in found)"),
    mutant(SUMMARY, '"total_macs": int(sum(macs)),', ""),
    mutant(
        "inception_module", "return (int(channels), H, W), int(params)", "return None, int(params)"
    ),
]
# the same answers as lists instead of tuples: accepted
AS_LISTS = [
    mutant(SHAPE, "return (int(C), 1, 1)", "return [int(C), 1, 1]"),
    mutant(RFS, "return tuple(found)", "return found"),
    mutant(SUMMARY, '"out_shapes": tuple(shapes),', '"out_shapes": [list(s) for s in shapes],'),
]

# a student's function calls the one mutated (or its checks call it): those may fail too
CALLERS = {
    SIZE: {SHAPE, MACS, RFS, SUMMARY},
    SHAPE: {MACS, RFS, SUMMARY},
    PARAMS: {MACS, SUMMARY},  # the MACs law compares with the student's own parameter count
    MACS: {SUMMARY},
    RFS: {SUMMARY},
    FORWARD: {BACKWARD},
}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


@pytest.mark.parametrize("mutant", AS_LISTS, ids=lambda mu: mu.label)
def test_lists_read_as_tuples(course, tmp_path, mutant):
    results = grade_mutant(course, tmp_path, mutant)
    assert [r.check_id for r in results if not r.passed] == []


def test_every_named_mistake_has_a_mutant():
    named = {mu.misconception for mu in MUTANTS if mu.misconception}
    assert {mc.name for mc in m.MISCONCEPTIONS} <= named


@pytest.mark.parametrize("seed", range(20))
def test_the_judge_model_without_mistakes_is_the_reference(ref_module, seed):
    rng = np.random.default_rng(seed)
    model = Arith()
    layers, in_shape = inputs.random_net(rng, True, bool(seed % 2), 8)
    assert model.summary(layers, in_shape) == ref_module.network_summary(layers, in_shape)
    for _ in range(20):
        args = inputs.size_args("any", bool(rng.integers(2)))(rng)
        assert model.size(*args) == ref_module.conv_output_size(*args)


def test_the_judge_model_without_mistakes_counts_the_famous_networks(ref_module):
    for layers, in_shape, count in nets.FAMOUS.values():
        assert Arith().summary(layers, in_shape) == ref_module.network_summary(layers, in_shape)
        assert Arith().summary(layers, in_shape)["total_params"] == count


@pytest.fixture(scope="module")
def ref_module(course):
    import importlib.util

    path = course.solutions_dir / "cnn_architectures.py"
    spec = importlib.util.spec_from_file_location("reference_cnn_architectures_mutants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
