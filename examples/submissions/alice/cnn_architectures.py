"""CNN architectures: shape, parameter and cost arithmetic of declared layer lists, 1x1
bottlenecks, the inception module, and a residual block (forward and backward) in numpy.

Conventions shared by every function in this module:

- A network is a list of layers; each layer is a dict with a "type" key. Keys not listed take
  the default shown; no function modifies the dicts it is given (copy before filling in
  defaults). In torch terms:

  - {"type": "conv", "out_channels": F, "kernel": k, "stride": 1, "pad": 0, "bias": True}:
    nn.Conv2d(C, F, k, stride, pad, bias=bias), square kernel, zero padding on H and W.
  - {"type": "pool", "kernel": k, "stride": k, "pad": 0, "ceil_mode": False}: max pooling,
    nn.MaxPool2d(k, stride, pad, ceil_mode=ceil_mode); the stride defaults to the kernel size.
  - {"type": "gap"}: global average pooling, nn.AdaptiveAvgPool2d(1): (C, H, W) -> (C, 1, 1).
  - {"type": "fc", "out_features": M, "bias": True}: flattens its input first (D = the product
    of the input shape), then nn.Linear(D, M, bias=bias); its output shape is (M,).
  - {"type": "relu"}: elementwise, shape unchanged.
  - {"type": "bn"}: batch normalisation over the channels (the first entry of the input shape):
    2*C parameters (gamma and beta; the running mean and variance are buffers, not parameters,
    as in torch's sum(p.numel() for p in model.parameters())).
  - {"type": "basic_block", "out_channels": F, "stride": 1}: ResNet-18/34's block (torchvision
    BasicBlock): conv 3x3 (stride, pad 1, no bias) - BN - ReLU - conv 3x3 (stride 1, pad 1, no
    bias) - BN, plus the shortcut, then ReLU. The shortcut is the identity when stride == 1 and
    C == F, else a projection: conv 1x1 (stride, no bias) - BN.
  - {"type": "bottleneck_block", "mid_channels": M, "out_channels": F, "stride": 1}:
    ResNet-50's block (torchvision Bottleneck, "ResNet v1.5": the stride sits on the 3x3):
    conv 1x1 C->M - BN - ReLU - conv 3x3 M->M (stride, pad 1) - BN - ReLU - conv 1x1 M->F - BN,
    plus the shortcut (as in the basic block: a projection when stride != 1 or C != F), then
    ReLU. No conv of a block has a bias.

- Shapes are tuples of Python ints without the batch axis: (C, H, W) for images and feature
  maps, (D,) after an fc layer. Every "in_shape" is the shape of the layer's (or network's)
  input.
- Output sizes of convolutions and poolings round DOWN: 1 + (size + 2*pad - kernel) // stride.
  A pool with "ceil_mode": True rounds up instead, as torch does, and then drops a last window
  that would start in the right padding: if (out - 1) * stride >= size + pad, out -= 1.
- Parameter counts include biases and BN's gamma and beta. Costs are multiply-accumulates
  (MACs) per example: a conv layer costs F * H' * W' * C * k * k, an fc layer D * M; biases,
  BN, ReLU and pooling cost 0 MACs (the convention of the papers' FLOP tables).
- Receptive fields are measured along the height axis in input pixels (kernels and strides are
  square, so the width axis gives the same numbers for conv and pool layers). Through layers
  with kernel k and stride s, r grows by (k - 1) * j, where j is the product of the strides of
  the layers before ("jump"); then j becomes j * s. ReLU and BN leave r alone; a block adds
  the growth of its main path (its 3x3 convolutions); gap and fc see their whole input map, as a
  kernel of size H_in would: r grows by (H_in - 1) * j (H_in = 1 for an fc after an fc).
- The residual block is numpy, float64, batch normalisation in training mode (batch
  statistics, biased variance; no running averages are kept). The convolution and batch
  normalisation pieces it needs are given (helpers marked "(given code)"; they are not graded,
  the block and its backward pass are).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

Layer = dict[str, Any]
Shape = tuple[int, ...]


def conv_output_size(
    size: int, kernel: int, stride: int = 1, pad: int = 0, ceil_mode: bool = False
) -> int:
    """Output size of a convolution or pooling along one spatial axis.

    Inputs:
    - size: int >= 1, input size along the axis (H or W).
    - kernel: int >= 1, window size along the axis.
    - stride: int >= 1, step between windows.
    - pad: int >= 0, zeros added on EACH side of the axis.
    - ceil_mode: bool; False rounds down (convolutions, and pools by default); True rounds up
      as torch's pools with ceil_mode=True do, dropping a last window that would start in the
      right padding.

    Returns:
    - out: int, 1 + (size + 2*pad - kernel) // stride (floor), or with ceil_mode
      1 + ceil((size + 2*pad - kernel) / stride), minus 1 when (out - 1) * stride >= size + pad.
      Raises ValueError when the kernel is larger than the padded input.
    """
    span = size + 2 * pad - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} is larger than the padded input {size + 2 * pad}")
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
    else:
        out = span // stride + 1
    return int(out)


def layer_output_shape(layer: Layer, in_shape: Shape) -> Shape:
    """Output shape of one layer (see the module docstring for the layer dicts).

    Inputs:
    - layer: dict, one layer of a layer list ("conv", "pool", "gap", "fc", "relu", "bn",
      "basic_block" or "bottleneck_block"); missing keys take their defaults.
    - in_shape: tuple of ints, the layer's input shape: (C, H, W), or (D,) after an fc layer
      (only "fc", "relu" and "bn" accept that).

    Returns:
    - out_shape: tuple of Python ints: (F, H', W') for conv and blocks, (C, H', W') for pool,
      (C, 1, 1) for gap, (M,) for fc, in_shape itself for relu and bn. H' and W' come from
      conv_output_size (a block's size is that of its first strided 3x3 convolution, pad 1).
      Raises ValueError for an unknown layer type.
    """
    kind = layer["type"]
    if kind in ("relu", "bn"):
        return tuple(int(v) for v in in_shape)
    if kind == "fc":
        return (int(layer["out_features"]),)
    C, H, W = in_shape
    if kind == "conv":
        k, stride, pad = layer["kernel"], layer.get("stride", 1), layer.get("pad", 0)
        sizes = [conv_output_size(n, k, stride, pad) for n in (H, W)]
        return (int(layer["out_channels"]), *sizes)
    if kind == "pool":
        k = layer["kernel"]
        stride, pad = layer.get("stride", k), layer.get("pad", 0)
        ceil_mode = layer.get("ceil_mode", False)
        sizes = [conv_output_size(n, k, stride, pad, ceil_mode) for n in (H, W)]
        return (int(C), *sizes)
    if kind == "gap":
        return (int(C), 1, 1)
    if kind in ("basic_block", "bottleneck_block"):
        stride = layer.get("stride", 1)
        sizes = [conv_output_size(n, 3, stride, 1) for n in (H, W)]
        return (int(layer["out_channels"]), *sizes)
    raise ValueError(f"unknown layer type {kind!r}")


def layer_param_count(layer: Layer, in_shape: Shape) -> int:
    """Number of trainable parameters of one layer.

    Inputs:
    - layer: dict, one layer of a layer list (see the module docstring).
    - in_shape: tuple of ints, the layer's input shape ((C, H, W) or (D,)).

    Returns:
    - count: Python int.
      - conv: F * C * k * k weights, plus F biases when "bias" is True (the default).
      - fc: M * D weights (D = product of in_shape), plus M biases when "bias" is True.
      - bn: 2 * C (gamma and beta; running statistics are not parameters).
      - basic_block: 9*C*F + 9*F*F conv weights and 2*F + 2*F for its two BNs; a projection
        shortcut (stride != 1 or C != F) adds C*F + 2*F.
      - bottleneck_block: C*M + 9*M*M + M*F conv weights and 2*M + 2*M + 2*F for its BNs; a
        projection shortcut adds C*F + 2*F.
      - pool, gap, relu: 0.
    """
    kind = layer["type"]
    C = int(in_shape[0])
    if kind == "conv":
        F, k = layer["out_channels"], layer["kernel"]
        return int(F * C * k * k + (F if layer.get("bias", True) else 0))
    if kind == "fc":
        D, M = int(np.prod(in_shape)), layer["out_features"]
        return int(M * D + (M if layer.get("bias", True) else 0))
    if kind == "bn":
        return 2 * C
    if kind in ("basic_block", "bottleneck_block"):
        F, stride = layer["out_channels"], layer.get("stride", 1)
        if kind == "basic_block":
            count = 9 * C * F + 9 * F * F + 2 * F + 2 * F
        else:
            M = layer["mid_channels"]
            count = C * M + 9 * M * M + M * F + 2 * M + 2 * M + 2 * F
        if stride != 1 or C != F:
            count += C * F + 2 * F
        return int(count)
    return 0


def layer_macs(layer: Layer, in_shape: Shape) -> int:
    """Multiply-accumulates of one layer for one example.

    Inputs:
    - layer: dict, one layer of a layer list (see the module docstring).
    - in_shape: tuple of ints, the layer's input shape ((C, H, W) or (D,)).

    Returns:
    - macs: Python int.
      - conv: F * H' * W' * C * k * k (H', W' the output size; biases cost nothing).
      - fc: D * M.
      - basic_block: H' * W' * (9*C*F + 9*F*F), plus H' * W' * C * F for a projection.
      - bottleneck_block: H * W * C * M (the first 1x1, at the input size) plus
        H' * W' * (9*M*M + M*F), plus H' * W' * C * F for a projection.
      - pool, gap, relu, bn: 0.
    """
    kind = layer["type"]
    if kind == "fc":
        return int(np.prod(in_shape)) * int(layer["out_features"])
    if kind not in ("conv", "basic_block", "bottleneck_block"):
        return 0
    C, H, W = (int(v) for v in in_shape)
    F, H_out, W_out = layer_output_shape(layer, in_shape)
    if kind == "conv":
        k = layer["kernel"]
        return F * H_out * W_out * C * k * k
    project = layer.get("stride", 1) != 1 or C != F
    shortcut = C * F if project else 0
    if kind == "basic_block":
        return H_out * W_out * (9 * C * F + 9 * F * F + shortcut)
    M = int(layer["mid_channels"])
    return H * W * C * M + H_out * W_out * (9 * M * M + M * F + shortcut)


def receptive_fields(layers: list[Layer], in_shape: Shape) -> tuple[int, ...]:
    """Receptive field of one output unit of each layer, in input pixels along the height.

    Inputs:
    - layers: list of layer dicts (see the module docstring), applied in order.
    - in_shape: tuple of ints (C, H, W), the network's input shape.

    Returns:
    - rfs: tuple of Python ints, one per layer. Start from r = 1, j = 1 (one input pixel, no
      stride yet); a conv or pool layer with kernel k and stride s does r += (k - 1) * j, then
      j *= s; relu and bn change nothing; a basic block does r += 2*j, j *= stride, r += 2*j (its
      two 3x3 convolutions); a bottleneck block r += 2*j, j *= stride (its 3x3); gap and fc do
      r += (H_in - 1) * j with H_in the height of their input (1 for a vector input).
    """
    r, j = 1, 1
    shape = tuple(in_shape)
    found = []
    for layer in layers:
        kind = layer["type"]
        if kind in ("conv", "pool"):
            k = layer["kernel"]
            stride = layer.get("stride", 1 if kind == "conv" else k)
            r += (k - 1) * j
            j *= stride
        elif kind == "basic_block":
            r += 2 * j
            j *= layer.get("stride", 1)
            r += 2 * j
        elif kind == "bottleneck_block":
            r += 2 * j
            j *= layer.get("stride", 1)
        elif kind in ("gap", "fc"):
            height = shape[1] if len(shape) == 3 else 1
            r += (height - 1) * j
        shape = layer_output_shape(layer, shape)
        found.append(int(r))
    return tuple(found)


def network_summary(layers: list[Layer], in_shape: Shape) -> dict[str, Any]:
    """Per-layer and whole-network shapes, parameter counts, MACs and receptive fields.

    Inputs:
    - layers: list of layer dicts (see the module docstring), applied in order.
    - in_shape: tuple of ints (C, H, W), the network's input shape.

    Returns a dict with the keys:
    - "total_params": int, the sum of "params".
    - "total_macs": int, the sum of "macs".
    - "out_shapes": tuple of shape tuples, the output shape of each layer (layer_output_shape).
    - "params": tuple of ints, the parameter count of each layer (layer_param_count).
    - "macs": tuple of ints, the MACs of each layer (layer_macs).
    - "receptive_fields": tuple of ints, the receptive field of each layer (receptive_fields).
    Each layer's values are computed on the output shape of the layer before it.
    """
    shapes, params, macs = [], [], []
    shape = tuple(in_shape)
    for layer in layers:
        params.append(layer_param_count(layer, shape))
        macs.append(layer_macs(layer, shape))
        shape = layer_output_shape(layer, shape)
        shapes.append(shape)
    return {
        "total_params": int(sum(params)),
        "total_macs": int(sum(macs)),
        "out_shapes": tuple(shapes),
        "params": tuple(params),
        "macs": tuple(macs),
        "receptive_fields": receptive_fields(layers, in_shape),
    }


def bottleneck_cost(
    C_in: int, C_mid: int, C_out: int, H: int, W: int, kernel: int
) -> tuple[int, int, float]:
    """What a 1x1 bottleneck saves: a k x k convolution C_in -> C_out applied directly, against a
    1x1 convolution C_in -> C_mid followed by the k x k convolution C_mid -> C_out.

    Every convolution is "same" (stride 1, pad (k - 1) / 2), so each output is H x W; costs
    are MACs per example (biases cost nothing).

    Inputs:
    - C_in, C_mid, C_out: ints >= 1, input, reduced and output channels.
    - H, W: ints >= 1, the spatial size.
    - kernel: odd int >= 1, the size of the k x k convolution.

    Returns a tuple of:
    - direct_macs: int, H * W * C_out * k * k * C_in.
    - bottleneck_macs: int, H * W * C_mid * C_in (the 1x1) + H * W * C_out * k * k * C_mid.
    - saving: float, direct_macs / bottleneck_macs (how many times cheaper the bottleneck is).
    """
    direct = H * W * C_out * kernel * kernel * C_in
    reduced = H * W * C_mid * C_in + H * W * C_out * kernel * kernel * C_mid
    return int(direct), int(reduced), float(direct / reduced)


def inception_module(in_shape: Shape, config: dict[str, int]) -> tuple[Shape, int, int]:
    """Output shape, parameters and MACs of a GoogLeNet inception module (v1, Szegedy et al.
    2014, Table 1 naming).

    Four branches see the same input and their outputs are concatenated along the channels:
    1x1 conv; 1x1 reduce then 3x3 conv (pad 1); 1x1 reduce then 5x5 conv (pad 2); 3x3 max pool
    (stride 1, pad 1) then 1x1 "pool projection". Every conv has stride 1 and a bias and is
    followed by a ReLU, so every branch keeps H x W.

    Inputs:
    - in_shape: tuple (C, H, W), the module's input shape.
    - config: dict of ints with the keys "1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5",
      "pool_proj" (output channels of each convolution).

    Returns a tuple of:
    - out_shape: tuple (config["1x1"] + config["3x3"] + config["5x5"] + config["pool_proj"],
      H, W): the reductions' outputs are internal and not concatenated.
    - params: int, weights and biases of the six convolutions.
    - macs: int, MACs of the six convolutions per example.
    """
    C, H, W = (int(v) for v in in_shape)
    r3, r5 = config["3x3_reduce"], config["5x5_reduce"]
    convs = [
        (C, config["1x1"], 1),
        (C, r3, 1),
        (r3, config["3x3"], 3),
        (C, r5, 1),
        (r5, config["5x5"], 5),
        (C, config["pool_proj"], 1),
    ]
    channels = config["1x1"] + config["3x3"] + config["5x5"] + config["pool_proj"]
    params = sum(c_in * c_out * k * k + c_out for c_in, c_out, k in convs)
    macs = H * W * sum(c_in * c_out * k * k for c_in, c_out, k in convs)
    return (int(channels), H, W), int(params), int(macs)


def _windows(x: np.ndarray, k: int, stride: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """(x_pad, a read-only view (N, C, H', W', k, k) of its windows) (given code)."""
    N, C, H, W = x.shape
    x_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    x_pad[:, :, pad : pad + H, pad : pad + W] = x
    H_out = (H + 2 * pad - k) // stride + 1
    W_out = (W + 2 * pad - k) // stride + 1
    sn, sc, sh, sw = x_pad.strides
    shape = (N, C, H_out, W_out, k, k)
    strides = (sn, sc, sh * stride, sw * stride, sh, sw)
    return x_pad, as_strided(x_pad, shape, strides, writeable=False)


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, stride: int, pad: int
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Convolution without bias (given code), not graded.

    Cross-correlation as in torch.nn.functional.conv2d: out[n, f, i, j] = sum over c, a, e of
    xpad[n, c, i*stride + a, j*stride + e] * w[f, c, a, e], with zero padding ``pad`` on each
    side of H and W and output sizes rounded down. Square kernels.

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - w: float64 array of shape (F, C, k, k).
    - stride, pad: ints.

    Returns a tuple of:
    - out: float64 array of shape (N, F, H', W').
    - cache: the tuple (x, w, stride, pad) for conv2d_backward.
    """
    _, windows = _windows(x, w.shape[2], stride, pad)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), (x, w, stride, pad)


def conv2d_backward(dout: np.ndarray, cache: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Backward pass of conv2d_forward (given code), not graded.

    Inputs:
    - dout: float64 array of shape (N, F, H', W'), upstream derivative.
    - cache: the tuple (x, w, stride, pad) from conv2d_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W).
    - dw: float64 array of shape (F, C, k, k).
    """
    x, w, stride, pad = cache
    _, _, H, W = x.shape
    k = w.shape[2]
    _, _, H_out, W_out = dout.shape
    x_pad, windows = _windows(x, k, stride, pad)
    dw = np.tensordot(dout, windows, axes=([0, 2, 3], [0, 2, 3]))
    dx_pad = np.zeros_like(x_pad)
    for a in range(k):
        for e in range(k):
            rows = slice(a, a + stride * H_out, stride)
            columns = slice(e, e + stride * W_out, stride)
            dx_pad[:, :, rows, columns] += np.tensordot(
                w[:, :, a, e], dout, axes=([0], [1])
            ).transpose(1, 0, 2, 3)
    return dx_pad[:, :, pad : pad + H, pad : pad + W].copy(), dw


def batchnorm2d_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Spatial batch normalisation in training mode (given code), not graded.

    Each channel is normalised with the mean and the BIASED variance of its N * H * W values
    (batch statistics, as torch.nn.functional.batch_norm with training=True), then scaled by
    gamma and shifted by beta. No running averages are kept.

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - gamma, beta: float64 arrays of shape (C,).
    - eps: float, added to the variance.

    Returns a tuple of:
    - out: float64 array of shape (N, C, H, W).
    - cache: the tuple (x_hat, gamma, inv_std) for batchnorm2d_backward.
    """
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    return out, (x_hat, gamma, inv_std)


def batchnorm2d_backward(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batchnorm2d_forward (given code), not graded.

    Inputs:
    - dout: float64 array of shape (N, C, H, W), upstream derivative.
    - cache: the tuple (x_hat, gamma, inv_std) from batchnorm2d_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W).
    - dgamma, dbeta: float64 arrays of shape (C,).
    """
    x_hat, gamma, inv_std = cache
    axes = (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma[None, :, None, None]
    mean_dx_hat = dx_hat.mean(axis=axes, keepdims=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=axes, keepdims=True)
    dx = inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)
    return dx, dgamma, dbeta


def residual_block_forward(
    x: np.ndarray, params: dict[str, np.ndarray], block_param: dict[str, Any]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of a ResNet basic block: conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU.

    out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): the shortcut is added BEFORE
    the final ReLU. conv1 is 3x3 with the block's stride and pad 1, conv2 3x3 with stride 1 and
    pad 1, neither with a bias. The shortcut is the identity when params has no "ws"; with
    "ws" it is a projection, bn_s(conv_s(x)) with conv_s 1x1, the block's stride, pad 0 (needed
    whenever the stride is not 1 or the number of channels changes). Every BN is in training
    mode. Use conv2d_forward and batchnorm2d_forward (given code).

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - params: dict of float64 arrays:
      - "w1" (F, C, 3, 3), "gamma1" (F,), "beta1" (F,): first conv and BN;
      - "w2" (F, F, 3, 3), "gamma2" (F,), "beta2" (F,): second conv and BN;
      - only for a projection shortcut: "ws" (F, C, 1, 1), "gammas" (F,), "betas" (F,).
    - block_param: dict with "stride" (int, default 1) and "eps" (float, default 1e-5, for
      every BN).

    Returns a tuple of:
    - out: float64 array of shape (N, F, H', W') with H' = 1 + (H - 1) // stride (the same for
      W'); out >= 0.
    - cache: whatever residual_block_backward needs (not inspected by the grader).
    An identity shortcut with stride != 1 or C != F raises ValueError (it needs "ws").
    """
    stride = block_param.get("stride", 1)
    eps = block_param.get("eps", 1e-5)
    F = params["w1"].shape[0]
    if "ws" not in params and (stride != 1 or x.shape[1] != F):
        raise ValueError("a block that changes the stride or the channels needs a projection")
    h1, conv1 = conv2d_forward(x, params["w1"], stride, 1)
    a1, bn1 = batchnorm2d_forward(h1, params["gamma1"], params["beta1"], eps)
    r1 = np.maximum(a1, 0.0)
    h2, conv2 = conv2d_forward(r1, params["w2"], 1, 1)
    main, bn2 = batchnorm2d_forward(h2, params["gamma2"], params["beta2"], eps)
    conv_s = bn_s = None
    shortcut = x
    if "ws" in params:
        hs, conv_s = conv2d_forward(x, params["ws"], stride, 0)
        shortcut, bn_s = batchnorm2d_forward(hs, params["gammas"], params["betas"], eps)
    pre = main + shortcut
    out = np.maximum(pre, 0.0)
    cache = (conv1, bn1, a1, conv2, bn2, conv_s, bn_s, pre)
    return out, cache


def residual_block_backward(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Backward pass of residual_block_forward.

    Use conv2d_backward and batchnorm2d_backward (given code). The gradient reaches x along both
    paths: through the two convolutions and through the shortcut (the identity passes the
    gradient of the sum unchanged).

    Inputs:
    - dout: float64 array of shape (N, F, H', W'), upstream derivative.
    - cache: the cache of residual_block_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W).
    - grads: dict with the same keys as the forward pass's params ("w1", "gamma1", "beta1",
      "w2", "gamma2", "beta2", and "ws", "gammas", "betas" for a projection), each gradient
      with the shape of its parameter.
    """
    conv1, bn1, a1, conv2, bn2, conv_s, bn_s, pre = cache
    dpre = dout * (pre > 0)
    dh2, dgamma2, dbeta2 = batchnorm2d_backward(dpre, bn2)
    dr1, dw2 = conv2d_backward(dh2, conv2)
    da1 = dr1 * (a1 > 0)
    dh1, dgamma1, dbeta1 = batchnorm2d_backward(da1, bn1)
    dx, dw1 = conv2d_backward(dh1, conv1)
    grads = {
        "w1": dw1,
        "gamma1": dgamma1,
        "beta1": dbeta1,
        "w2": dw2,
        "gamma2": dgamma2,
        "beta2": dbeta2,
    }
    if conv_s is None:
        dx = dx + dpre
    else:
        dhs, dgammas, dbetas = batchnorm2d_backward(dpre, bn_s)
        dxs, dws = conv2d_backward(dhs, conv_s)
        dx = dx + dxs
        grads.update(ws=dws, gammas=dgammas, betas=dbetas)
    return dx, grads
