"""A judge-side model of the architecture arithmetic, with switches for the known mistakes.

``Arith()`` computes what the reference computes (``tests/topics/test_cnn_architectures_mutants.py``
checks that it agrees with ``solutions/cnn_architectures.py``); each field turned off or on
models one mistake consistently through every function that depends on it, as a student's own
helpers would carry it: a wrong ``conv_output_size`` also makes ``layer_output_shape``,
``layer_macs`` and ``network_summary`` wrong in the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Layer = dict[str, Any]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Arith:
    bias: bool = True  # False: biases left out of conv and fc parameter counts
    pad: bool = True  # False: padding ignored in output sizes
    flip_rounding: bool = False  # True: ceil where floor is due, floor where ceil_mode asks ceil
    stride_product: bool = True  # False: receptive field grows by k - 1, not (k - 1) * jump
    projection: bool = True  # False: blocks never count a projection shortcut
    bn_per_channel: int = 2  # 4: BN's running mean and variance counted as parameters

    def size(self, size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = False) -> int:
        pad = pad if self.pad else 0
        span = size + 2 * pad - kernel
        if span < 0:
            raise ValueError("kernel larger than the padded input")
        if ceil_mode != self.flip_rounding:
            out = math.ceil(span / stride) + 1
            if ceil_mode and (out - 1) * stride >= size + pad:
                out -= 1
            return out
        return span // stride + 1

    def shape(self, layer: Layer, in_shape: Shape) -> Shape:
        kind = layer["type"]
        if kind in ("relu", "bn"):
            return tuple(in_shape)
        if kind == "fc":
            return (layer["out_features"],)
        C, H, W = in_shape
        if kind == "conv":
            k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("pad", 0)
            return (layer["out_channels"], self.size(H, k, s, p), self.size(W, k, s, p))
        if kind == "pool":
            k = layer["kernel"]
            s, p, c = layer.get("stride", k), layer.get("pad", 0), layer.get("ceil_mode", False)
            return (C, self.size(H, k, s, p, c), self.size(W, k, s, p, c))
        if kind == "gap":
            return (C, 1, 1)
        s = layer.get("stride", 1)
        return (layer["out_channels"], self.size(H, 3, s, 1), self.size(W, 3, s, 1))

    def _projects(self, layer: Layer, C: int) -> bool:
        return self.projection and (layer.get("stride", 1) != 1 or C != layer["out_channels"])

    def params(self, layer: Layer, in_shape: Shape) -> int:
        kind, C = layer["type"], in_shape[0]
        bias = self.bias and layer.get("bias", True)
        bn = self.bn_per_channel
        if kind == "conv":
            F, k = layer["out_channels"], layer["kernel"]
            return F * C * k * k + (F if bias else 0)
        if kind == "fc":
            M = layer["out_features"]
            return M * math.prod(in_shape) + (M if bias else 0)
        if kind == "bn":
            return bn * C
        if kind not in ("basic_block", "bottleneck_block"):
            return 0
        F = layer["out_channels"]
        if kind == "basic_block":
            count = 9 * C * F + 9 * F * F + 2 * bn * F
        else:
            M = layer["mid_channels"]
            count = C * M + 9 * M * M + M * F + 2 * bn * M + bn * F
        return count + (C * F + bn * F if self._projects(layer, C) else 0)

    def macs(self, layer: Layer, in_shape: Shape) -> int:
        kind = layer["type"]
        if kind == "fc":
            return math.prod(in_shape) * layer["out_features"]
        if kind not in ("conv", "basic_block", "bottleneck_block"):
            return 0
        C, H, W = in_shape
        F, Ho, Wo = self.shape(layer, in_shape)
        if kind == "conv":
            return F * Ho * Wo * C * layer["kernel"] ** 2
        shortcut = C * F if self._projects(layer, C) else 0
        if kind == "basic_block":
            return Ho * Wo * (9 * C * F + 9 * F * F + shortcut)
        M = layer["mid_channels"]
        return H * W * C * M + Ho * Wo * (9 * M * M + M * F + shortcut)

    def rfs(self, layers: list[Layer], in_shape: Shape) -> tuple[int, ...]:
        r, j, shape, found = 1, 1, tuple(in_shape), []
        for layer in layers:
            kind = layer["type"]
            step = j if self.stride_product else 1
            if kind in ("conv", "pool"):
                r += (layer["kernel"] - 1) * step
                j *= layer.get("stride", 1 if kind == "conv" else layer["kernel"])
            elif kind == "basic_block":
                r += 2 * step
                j *= layer.get("stride", 1)
                r += 2 * (j if self.stride_product else 1)
            elif kind == "bottleneck_block":
                r += 2 * step
                j *= layer.get("stride", 1)
            elif kind in ("gap", "fc"):
                r += ((shape[1] if len(shape) == 3 else 1) - 1) * step
            shape = self.shape(layer, shape)
            found.append(r)
        return tuple(found)

    def summary(self, layers: list[Layer], in_shape: Shape) -> dict[str, Any]:
        shapes, params, macs, shape = [], [], [], tuple(in_shape)
        for layer in layers:
            params.append(self.params(layer, shape))
            macs.append(self.macs(layer, shape))
            shape = self.shape(layer, shape)
            shapes.append(shape)
        return {
            "total_params": sum(params),
            "total_macs": sum(macs),
            "out_shapes": tuple(shapes),
            "params": tuple(params),
            "macs": tuple(macs),
            "receptive_fields": self.rfs(layers, in_shape),
        }
