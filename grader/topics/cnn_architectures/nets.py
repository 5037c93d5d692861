"""Layer lists of famous networks, in the layer-dict format of ``solutions/cnn_architectures.py``,
with the facts a student can look up: their parameter counts (torch's
``sum(p.numel() for p in model.parameters())`` of the same definitions, checked in
``tests/oracle/test_cnn_architectures_oracle.py``).

- LeNet-5 (LeCun et al. 1998) on a 1 x 32 x 32 input, fully connected C3 (the original's sparse
  C3 table is not modelled), max pooling: 61,706 parameters ("about 60 thousand").
- AlexNet as torchvision defines it (64-192-384-256-256 channels, one tower), 3 x 224 x 224:
  61,100,840 ("about 60 million").
- VGG-16 (configuration D), 3 x 224 x 224: 138,357,544.
- ResNet-18 and ResNet-50 as torchvision defines them (BN and the fc head included; ResNet-50
  with the stride on the 3x3, "v1.5"), 3 x 224 x 224: 11,689,512 and 25,557,032.
"""

from __future__ import annotations

from typing import Any

Layer = dict[str, Any]
IMAGENET = (3, 224, 224)


def conv(out_channels: int, kernel: int, stride: int = 1, pad: int = 0, bias: bool = True) -> Layer:
    return {
        "type": "conv",
        "out_channels": out_channels,
        "kernel": kernel,
        "stride": stride,
        "pad": pad,
        "bias": bias,
    }


def pool(kernel: int, stride: int | None = None, pad: int = 0, ceil_mode: bool = False) -> Layer:
    layer: Layer = {"type": "pool", "kernel": kernel}
    if stride is not None:
        layer["stride"] = stride
    if pad:
        layer["pad"] = pad
    if ceil_mode:
        layer["ceil_mode"] = True
    return layer


def fc(out_features: int, bias: bool = True) -> Layer:
    return {"type": "fc", "out_features": out_features, "bias": bias}


RELU: Layer = {"type": "relu"}
BN: Layer = {"type": "bn"}
GAP: Layer = {"type": "gap"}


def basic(out_channels: int, stride: int = 1) -> Layer:
    return {"type": "basic_block", "out_channels": out_channels, "stride": stride}


def bottleneck(mid_channels: int, out_channels: int, stride: int = 1) -> Layer:
    return {
        "type": "bottleneck_block",
        "mid_channels": mid_channels,
        "out_channels": out_channels,
        "stride": stride,
    }


def lenet5() -> list[Layer]:
    return [
        conv(6, 5), dict(RELU), pool(2),
        conv(16, 5), dict(RELU), pool(2),
        fc(120), dict(RELU), fc(84), dict(RELU), fc(10),
    ]  # fmt: skip


def alexnet() -> list[Layer]:
    return [
        conv(64, 11, 4, 2), dict(RELU), pool(3, 2),
        conv(192, 5, 1, 2), dict(RELU), pool(3, 2),
        conv(384, 3, 1, 1), dict(RELU),
        conv(256, 3, 1, 1), dict(RELU),
        conv(256, 3, 1, 1), dict(RELU), pool(3, 2),
        fc(4096), dict(RELU), fc(4096), dict(RELU), fc(1000),
    ]  # fmt: skip


VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")  # fmt: skip


def vgg16() -> list[Layer]:
    layers: list[Layer] = []
    for item in VGG16_CONFIG:
        layers += [pool(2, 2)] if item == "M" else [conv(int(item), 3, 1, 1), dict(RELU)]
    return layers + [fc(4096), dict(RELU), fc(4096), dict(RELU), fc(1000)]


def _stem() -> list[Layer]:
    return [conv(64, 7, 2, 3, bias=False), dict(BN), dict(RELU), pool(3, 2, 1)]


def resnet18() -> list[Layer]:
    blocks = []
    for stage, width in enumerate((64, 128, 256, 512)):
        blocks += [basic(width, 1 if stage == 0 else 2), basic(width)]
    return [*_stem(), *blocks, dict(GAP), fc(1000)]


def resnet50() -> list[Layer]:
    blocks = []
    for stage, (width, count) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        blocks.append(bottleneck(width, 4 * width, 1 if stage == 0 else 2))
        blocks += [bottleneck(width, 4 * width) for _ in range(count - 1)]
    return [*_stem(), *blocks, dict(GAP), fc(1000)]


# name -> (layers, input shape, parameter count of the torch definition)
FAMOUS: dict[str, tuple[list[Layer], tuple[int, int, int], int]] = {
    "LeNet-5": (lenet5(), (1, 32, 32), 61_706),
    "AlexNet": (alexnet(), IMAGENET, 61_100_840),
    "VGG-16": (vgg16(), IMAGENET, 138_357_544),
    "ResNet-18": (resnet18(), IMAGENET, 11_689_512),
    "ResNet-50": (resnet50(), IMAGENET, 25_557_032),
}
