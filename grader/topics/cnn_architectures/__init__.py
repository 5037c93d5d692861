"""Topic ``cnn_architectures``: the arithmetic of declared layer lists (output shapes, parameter
counts, multiply-accumulates, receptive fields), 1x1 bottlenecks, the inception module, and a
ResNet basic block (forward and backward) in numpy.

Declarations only. The parts beside this module: ``nets`` (layer lists of LeNet-5, AlexNet,
VGG-16, ResNet-18 and ResNet-50 with their parameter counts), ``inputs`` (input makers),
``kinds`` (the check kinds this topic adds: exact comparison of nested counts, mutation of
any argument, numeric gradients through the params dict), ``laws`` (property checks),
``arith`` (a judge-side model of the arithmetic with switches for the mistakes) and
``mistakes``. Counts compare exactly (relative error 1e-12); the block compares at 1e-7 and its
gradients against the student's own forward at 1e-6.
"""

from __future__ import annotations

from grader.checks.anchor import degenerate
from grader.checks.base import Check, Make
from grader.checks.hygiene import Deterministic
from grader.checks.outputs import CACHE
from grader.checks.property import Property
from grader.checks.reference import BackwardReference, Reference
from grader.topics.cnn_architectures import inputs as i
from grader.topics.cnn_architectures import laws
from grader.topics.cnn_architectures.arith import Arith
from grader.topics.cnn_architectures.kinds import (
    BLOCK_GRADS,
    BlockGradient,
    Exact,
    Repeatable,
    Unchanged,
)
from grader.topics.cnn_architectures.mistakes import FLIPPED, MISCONCEPTIONS, NO_PAD

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "cnn_architectures"
SUMMARY = (
    "shapes, parameters, MACs and receptive fields of layer lists (LeNet-5 to ResNet-50, "
    "counted exactly); 1x1 bottleneck, inception; residual block forward and backward"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "conv_output_size",
    "layer_output_shape",
    "layer_param_count",
    "layer_macs",
    "receptive_fields",
    "network_summary",
    "bottleneck_cost",
    "inception_module",
    "residual_block_forward",
    "residual_block_backward",
)
OUT = ("out", CACHE)
EVERY_LAYER = tuple(i.LAYERS)


def _exact(function: str, outputs: tuple[str, ...], cases: list[tuple]) -> list[Check]:
    """One Exact check per (case, make or makes, draws[, hidden]), and the two hygiene checks (on
    the first case's inputs). With several makes (one per layer kind), each is drawn
    draws // len(makes) times (at least once), so every kind is there whatever the secret."""
    found: list[Check] = []
    for case, make, draws, *hidden in cases:
        makes = make if isinstance(make, tuple) else (make,)
        repeat = max(1, draws // len(makes))
        found.append(
            Exact(
                TOPIC, function, case, makes[0], outputs,
                more=makes[1:], repeat=repeat, hidden=bool(hidden),
            )
        )  # fmt: skip
    first = cases[0][1][0] if isinstance(cases[0][1], tuple) else cases[0][1]
    found.append(Unchanged(TOPIC, function, "arguments unchanged", first))
    found.append(Repeatable(TOPIC, function, "deterministic", first, outputs))
    return found


def _size_checks() -> list[Check]:
    fn = "conv_output_size"
    found = _exact(
        fn,
        ("out",),
        [
            ("stride 2 to 4, pad >= 1, span not divisible (floor)", i.size_args("floor"), 8),
            ("stride 1, pad on both sides", i.size_args("pad"), 6),
            ("kernel as large as the padded input (output 1)", i.size_args("whole"), 4),
            ("any kernel, stride and pad", i.size_args("any"), 10),
            ("ceil_mode: a partial last window counts", i.size_args("ceil", True), 6),
            (
                "ceil_mode: a last window starting in the right padding is dropped (torch)",
                i.size_args("ceil_drop", True),
                4,
            ),
            ("ceil_mode on an exact division (same as floor)", i.size_args("ceil_exact", True), 4),
            ("sizes up to 1000", i.size_args("any", False, 1000), 10, True),
            ("ceil_mode, sizes up to 1000", i.size_args("any", True, 1000), 10, True),
        ],
    )
    found.append(Property(TOPIC, fn, "'same' padding keeps the size", laws.same_padding(10)))
    found.append(
        Property(
            TOPIC,
            fn,
            "a kernel larger than the padded input raises ValueError (pad 0 and pad > 0)",
            laws.kernel_too_large(4),
        )
    )
    return degenerate(found, "kernel as large as the padded input (output 1)")


def _layer(*kinds: str, differs: Arith | None = None) -> tuple[Make, ...]:
    """One input maker per layer kind."""
    return tuple(i.layer_args(kind, differs=differs) for kind in kinds)


def _shape_checks() -> list[Check]:
    return _exact(
        "layer_output_shape",
        ("out_shape",),
        [
            ("conv, the padding changes the size", _layer("conv", differs=NO_PAD), 6),
            ("conv, stride not dividing the span (floor)", _layer("conv", differs=FLIPPED), 6),
            (
                "conv 1x1, and conv with the default stride 1 and pad 0",
                _layer("conv 1x1", "conv, defaults"),
                6,
            ),
            ("max pool, stride and pad", _layer("pool", differs=FLIPPED), 6),
            ("max pool, the stride defaults to the kernel", _layer("pool, default stride"), 4),
            ("max pool, ceil_mode", _layer("pool, ceil_mode", differs=FLIPPED), 6),
            ("fc flattens: (C, H, W) or (D,) -> (M,)", _layer("fc on a map", "fc on a vector"), 4),
            ("relu, bn and gap", _layer("relu", "bn", "bn on a vector", "gap"), 6),
            (
                "basic and bottleneck blocks, identity and stride 2 (floor)",
                _layer("basic_block, projection", "bottleneck_block, projection", differs=FLIPPED)
                + _layer("basic_block, identity", "bottleneck_block, identity"),
                8,
            ),
            (
                "blocks without a 'stride' key (stride 1 by default)",
                _layer("basic_block, no stride key", "bottleneck_block, no stride key"),
                4,
            ),
            ("every layer type", _layer(*EVERY_LAYER), 16, True),
        ],
    ) + [
        Property(
            TOPIC,
            "layer_output_shape",
            "an unknown layer type raises ValueError",
            laws.unknown_layer_raises(("dropout", "Conv", "maxpool")),
        )
    ]


def _param_checks() -> list[Check]:
    fn = "layer_param_count"
    found = _exact(
        fn,
        ("count",),
        [
            ("conv with bias, 1x1 too", _layer("conv", "conv 1x1"), 8),
            ("conv without bias (bias=False)", _layer("conv, no bias"), 4),
            (
                "fc on a (C, H, W) input (flattened) and on a vector",
                _layer("fc on a map", "fc on a vector"),
                6,
            ),
            ("fc without bias", _layer("fc, no bias"), 4),
            ("bn: gamma and beta per channel", _layer("bn", "bn on a vector"), 4),
            ("pool, relu and gap have none", _layer("pool", "relu", "gap"), 6),
            (
                "basic block, identity and projection shortcuts",
                _layer("basic_block, identity", "basic_block, projection"),
                8,
            ),
            (
                "bottleneck block, identity and projection shortcuts",
                _layer("bottleneck_block, identity", "bottleneck_block, projection"),
                8,
            ),
            (
                "blocks without a 'stride' key: a projection only when the channels change",
                _layer("basic_block, no stride key", "bottleneck_block, no stride key"),
                4,
            ),
            ("every layer type", _layer(*EVERY_LAYER), 16, True),
        ],
    )
    found.append(
        Property(
            TOPIC,
            fn,
            "three 3x3 convolutions have fewer parameters than one 7x7",
            laws.stacked_params,
        )  # fmt: skip
    )
    return degenerate(found, "pool, relu and gap have none")


def _macs_checks() -> list[Check]:
    fn = "layer_macs"
    found = _exact(
        fn,
        ("macs",),
        [
            ("conv, the padding changes the output size", _layer("conv", differs=NO_PAD), 6),
            ("conv, stride not dividing the span (floor)", _layer("conv", differs=FLIPPED), 6),
            ("fc on a map and on a vector", _layer("fc on a map", "fc on a vector"), 4),
            ("pool, relu, bn and gap cost nothing", _layer("pool", "relu", "bn", "gap"), 6),
            ("basic block, identity and projection", _layer("basic_block, identity",
                                                            "basic_block, projection"), 6),
            (
                "bottleneck block (its first 1x1 runs at the input size)",
                _layer("bottleneck_block, identity", "bottleneck_block, projection"),
                6,
            ),
            (
                "blocks without a 'stride' key: a projection only when the channels change",
                _layer("basic_block, no stride key", "bottleneck_block, no stride key"),
                4,
            ),
            ("every layer type", _layer(*EVERY_LAYER), 16, True),
        ],
    )  # fmt: skip
    found.append(
        Property(
            TOPIC,
            fn,
            "a conv without bias costs its parameters x H' x W'",
            laws.macs_are_params_times_positions,
        )
    )
    return degenerate(found, "pool, relu, bn and gap cost nothing")


def _rf_checks() -> list[Check]:
    fn = "receptive_fields"
    found = _exact(
        fn,
        ("rfs",),
        [
            ("conv and pool stacks with strides", i.network_args(head=False), 4),
            ("with basic and bottleneck blocks", i.network_args(True, head=False), 4),
            ("ending in gap and fc", i.network_args(True), 3),
            (
                "keys at their defaults left out (conv and block strides 1, pool stride k)",
                i.network_args(True, terse=True),
                4,
            ),
            ("VGG-16 (conv5_3 sees 196 x 196 pixels)", i.famous("VGG-16"), 1),
            ("AlexNet and ResNet-18", (i.famous("AlexNet"), i.famous("ResNet-18")), 2),
            ("deeper random networks", i.network_args(True, depth=14), 4, True),
        ],
    )
    found.append(
        Property(
            TOPIC,
            fn,
            "three stacked 3x3 convolutions see 7 x 7, as one 7x7 does",
            laws.stacked_receptive_field,
        )  # fmt: skip
    )
    return found


def _summary_checks() -> list[Check]:
    fn = "network_summary"
    found = _exact(
        fn,
        ("summary",),
        [
            ("LeNet-5: 61,706 parameters (about 60 thousand)", i.famous("LeNet-5"), 1),
            ("AlexNet (torchvision): 61,100,840 parameters (about 60 million)",
             i.famous("AlexNet"), 1),
            ("VGG-16: 138,357,544 parameters, 15.5 GMACs", i.famous("VGG-16"), 1),
            ("ResNet-18: 11,689,512 parameters (BN and fc included)", i.famous("ResNet-18"), 1),
            ("ResNet-50: 25,557,032 parameters, 4.1 GMACs", i.famous("ResNet-50"), 1),
            ("a random conv net with a head", i.network_args(), 3),
            ("a random residual net", i.network_args(True), 3),
            ("a random residual net, keys at their defaults left out",
             i.network_args(True, terse=True), 2),
            ("deeper random residual nets", i.network_args(True, depth=14), 3, True),
        ],
    )  # fmt: skip
    found.append(
        Property(
            TOPIC,
            fn,
            "the totals are the sums of the per-layer values",
            laws.totals_are_sums(i.network_args(True)),
        )
    )
    return found


def _bottleneck_and_inception_checks() -> list[Check]:
    found = _exact(
        "bottleneck_cost",
        ("direct_macs", "bottleneck_macs", "saving"),
        [
            (
                "GoogLeNet's example: 28x28, 192 -> 16 -> 32, 5x5 (120.4M vs 12.4M MACs)",
                lambda rng: (192, 16, 32, 28, 28, 5),
                1,
            ),
            ("3x3", i.bottleneck_args(3), 5),
            ("5x5", i.bottleneck_args(5), 5),
            ("up to 1024 input channels", i.bottleneck_args(large=True), 6, True),
        ],
    )
    found += _exact(
        "inception_module",
        ("out_shape", "params", "macs"),
        [
            ("GoogLeNet inception (3a): 192 x 28 x 28 -> 256 channels, 128M MACs",
             i.inception_args(i.INCEPTION_3A), 1),
            ("GoogLeNet inception (5b): 832 x 7 x 7 -> 1024 channels",
             i.inception_args(i.INCEPTION_5B), 1),
            ("random branch widths", i.inception_args(), 5),
            ("random branch widths and inputs", i.inception_args(), 6, True),
        ],
    )  # fmt: skip
    return found


BLOCK_CASES = [
    ("identity, N=2 C=F=3 5x5", i.block_args(2, 3, 3, 5), False),
    ("projection, stride 1, channels change C=3 -> F=5", i.block_args(2, 3, 5, 5), False),
    ("one input channel, C=1 -> F=3, stride 1", i.block_args(2, 1, 3, 4, 5), False),
    ("batch of 1, identity, non-square 4x6", i.block_args(1, 2, 2, 4, 6), False),
    ("projection, stride 2, odd non-square 7x5, N=3", i.block_args(3, 2, 3, 7, 5, 2), False),
    # keys left out of block_param take their defaults (stride 1, eps 1e-5)
    (
        "block_param {}: stride 1, eps 1e-5 (identity, C=F=3)",
        i.block_args(2, 3, 3, 5, given=()),
        False,
    ),
    (
        "block_param without 'eps': 1e-5 (projection, C=2 -> F=4)",
        i.block_args(2, 2, 4, 5, given=("stride",)),
        False,
    ),
    ("identity, N=4 C=F=6 8x8", i.block_args(4, 6, 6, 8), True),
    ("projection, stride 2, C=4 -> F=8, 9x9", i.block_args(2, 4, 8, 9, stride=2), True),
]


def _block_checks() -> list[Check]:
    F, B = "residual_block_forward", "residual_block_backward"
    found: list[Check] = []
    for case, make, hidden in BLOCK_CASES:
        found.append(Reference(TOPIC, F, case, make, OUT, hidden=hidden))
        found.append(BackwardReference(TOPIC, B, F, case, make, BLOCK_GRADS, hidden=hidden))
    found += [
        Property(TOPIC, F, "out >= 0 (the ReLU comes after the sum)",
                 laws.relu_comes_last(i.block_args(2, 3, 3, 5))),
        Property(TOPIC, F, "gamma2 = beta2 = 0: an identity block returns relu(x)",
                 laws.zero_last_bn_forward(i.block_args(2, 3, 3, 5, zero_last_bn=True))),
        Property(TOPIC, F, "an identity shortcut with stride 2, or with C != F, raises ValueError",
                 laws.identity_needs_projection((i.block_args(2, 1, 3, 4),
                                                 i.block_args(2, 2, 2, 1, stride=2)))),
        Unchanged(TOPIC, F, "arguments unchanged", BLOCK_CASES[4][1], keep=(1,)),
        Deterministic(TOPIC, F, "deterministic", BLOCK_CASES[4][1], OUT),
        BlockGradient(
            TOPIC,
            "numeric gradient, elementwise (identity, N=2 C=F=1 3x3)",
            i.block_args(2, 1, 1, 3, away_from_kinks=True),
        ),
        BlockGradient(
            TOPIC,
            "numeric gradient, directional (projection, stride 2, C=2 -> F=3, 5x5)",
            i.block_args(2, 2, 3, 5, stride=2, away_from_kinks=True),
            mode="directional",
        ),
        BlockGradient(
            TOPIC,
            "numeric gradient, directional (identity, N=3 C=F=4 6x5)",
            i.block_args(3, 4, 4, 6, 5, away_from_kinks=True),
            mode="directional",
        ),
        Property(TOPIC, B, "gamma2 = beta2 = 0: dx = dout * (x > 0)",
                 laws.zero_last_bn_backward(i.block_args(2, 3, 3, 5, zero_last_bn=True))),
    ]  # fmt: skip
    return found


def checks() -> list[Check]:
    return [
        *_size_checks(),
        *_shape_checks(),
        *_param_checks(),
        *_macs_checks(),
        *_rf_checks(),
        *_summary_checks(),
        *_bottleneck_and_inception_checks(),
        *_block_checks(),
    ]
