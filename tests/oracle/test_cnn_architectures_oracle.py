"""The reference cnn_architectures (solutions/cnn_architectures.py) agrees with PyTorch.

- Layer lists are built as torch.nn modules by a builder of this file (torchvision is not
  installed: ResNet's BasicBlock and Bottleneck are written here after torchvision's
  definitions); on the meta device nothing is computed or allocated. Output shapes come from
  torch's forward pass, parameter counts from ``sum(p.numel())``, MACs from forward hooks on
  every Conv2d and Linear (output elements x in_channels x kernel area, or x in_features). The
  famous networks must also have their published parameter counts.
- ``conv_output_size`` against the output size of nn.MaxPool2d (floor and ceil_mode) and
  nn.Conv2d.
- Receptive fields against autograd: the network rebuilt with one channel, positive weights and
  average pooling in place of max pooling (same windows, a gradient for every position), on an
  input large enough that the centre output's receptive field stays inside; the rows where the
  gradient of that output is nonzero are its receptive field.
- The bottleneck's costs and the inception module's shape, parameters and MACs against torch
  modules built from the same description.
- The residual block and its backward pass against F.conv2d, F.batch_norm (training=True) and
  relu with autograd, and the given conv and BN helpers likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import load_solution
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

from grader.topics.cnn_architectures import inputs as topic_inputs
from grader.topics.cnn_architectures import nets
from grader.topics.cnn_architectures.arith import Arith

seeds = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    return load_solution("cnn_architectures")


# -- torch models of layer lists -------------------------------------------------------------------
class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (expansion 1)."""

    def __init__(self, C: int, F: int, stride: int, **kw: object) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(C, F, 3, stride, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(F, **kw)
        self.conv2 = nn.Conv2d(F, F, 3, 1, 1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(F, **kw)
        self.downsample = _projection(C, F, stride, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck (stride on the 3x3, "ResNet v1.5")."""

    def __init__(self, C: int, M: int, F: int, stride: int, **kw: object) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(C, M, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(M, **kw)
        self.conv2 = nn.Conv2d(M, M, 3, stride, 1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(M, **kw)
        self.conv3 = nn.Conv2d(M, F, 1, bias=False, **kw)
        self.bn3 = nn.BatchNorm2d(F, **kw)
        self.downsample = _projection(C, F, stride, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


def _projection(C: int, F: int, stride: int, **kw: object) -> nn.Module | None:
    if stride == 1 and C == F:
        return None
    return nn.Sequential(nn.Conv2d(C, F, 1, stride, bias=False, **kw), nn.BatchNorm2d(F, **kw))


def build(
    layers: list[dict], in_shape: tuple, device: str = "meta", width: int | None = None
) -> tuple[list[nn.Module], list[tuple[int, ...]]]:
    """One torch module per layer, and the output shape torch gives each (batch axis dropped).

    ``width`` replaces every channel count (input included) by that number and max pooling by
    average pooling (the receptive-field test); the shapes are then found on ``device``.
    """
    kw = {"device": device, "dtype": torch.float64}
    probe = torch.zeros((1, width or in_shape[0], *in_shape[1:]), **kw)
    modules, shapes = [], []
    for layer in layers:
        kind, C = layer["type"], probe.shape[1]
        out = width or layer.get("out_channels")
        if kind == "conv":
            k, bias = layer["kernel"], layer.get("bias", True)
            module = nn.Conv2d(
                C, out, k, layer.get("stride", 1), layer.get("pad", 0), bias=bias, **kw
            )
        elif kind == "pool":
            k = layer["kernel"]
            pool = nn.AvgPool2d if width else nn.MaxPool2d
            module = pool(
                k,
                layer.get("stride", k),
                layer.get("pad", 0),
                ceil_mode=layer.get("ceil_mode", False),
            )
        elif kind == "gap":
            module = nn.AdaptiveAvgPool2d(1)
        elif kind == "fc":
            linear = nn.Linear(
                probe[0].numel(), layer["out_features"], layer.get("bias", True), **kw
            )
            module = nn.Sequential(nn.Flatten(), linear)
        elif kind == "relu":
            module = nn.ReLU()
        elif kind == "bn":
            module = (nn.BatchNorm2d if probe.dim() == 4 else nn.BatchNorm1d)(C, **kw)
        elif kind == "basic_block":
            module = BasicBlock(C, out, layer.get("stride", 1), **kw)
        else:
            mid = width or layer["mid_channels"]
            module = Bottleneck(C, mid, out, layer.get("stride", 1), **kw)
        module.eval()
        probe = module(probe)
        modules.append(module)
        shapes.append(tuple(probe.shape[1:]))
    return modules, shapes


def count_macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of ``module(x)`` per example, by hooks on its Conv2d and Linear."""
    total = [0]

    def conv_hook(m: nn.Conv2d, args: tuple, out: torch.Tensor) -> None:
        total[0] += (
            out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        )

    def linear_hook(m: nn.Linear, args: tuple, out: torch.Tensor) -> None:
        total[0] += out[0].numel() * m.in_features

    handles = []
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            handles.append(sub.register_forward_hook(conv_hook))
        elif isinstance(sub, nn.Linear):
            handles.append(sub.register_forward_hook(linear_hook))
    module(x)
    for handle in handles:
        handle.remove()
    return total[0]


def torch_summary(layers: list[dict], in_shape: tuple) -> dict:
    modules, shapes = build(layers, in_shape)
    probe = torch.zeros((1, *in_shape), device="meta", dtype=torch.float64)
    params, macs = [], []
    for module in modules:
        params.append(sum(p.numel() for p in module.parameters()))
        macs.append(count_macs(module, probe))
        probe = module(probe)
    return {
        "out_shapes": tuple(shapes),
        "params": tuple(params),
        "macs": tuple(macs),
        "total_params": sum(params),
        "total_macs": sum(macs),
    }


def _agrees(ref: ModuleType, layers: list[dict], in_shape: tuple) -> dict:
    ours = ref.network_summary(layers, in_shape)
    theirs = torch_summary(layers, in_shape)
    for key, value in theirs.items():
        assert ours[key] == value, key
    for i, layer in enumerate(layers):
        shape = in_shape if i == 0 else theirs["out_shapes"][i - 1]
        assert ref.layer_output_shape(layer, shape) == theirs["out_shapes"][i]
        assert ref.layer_param_count(layer, shape) == theirs["params"][i]
        assert ref.layer_macs(layer, shape) == theirs["macs"][i]
    return ours


# -- the famous networks ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(nets.FAMOUS))
def test_famous_networks_have_their_published_counts(ref, name):
    layers, in_shape, count = nets.FAMOUS[name]
    ours = _agrees(ref, layers, in_shape)
    assert ours["total_params"] == count
    assert ours["out_shapes"][-1] == ((10,) if name == "LeNet-5" else (1000,))


def test_well_known_costs_and_sizes(ref):
    """MACs as the usual tables give them (conv and fc only), and VGG-16's conv5_3 sees 196
    pixels."""
    macs = {name: ref.network_summary(*nets.FAMOUS[name][:2])["total_macs"] for name in nets.FAMOUS}
    assert macs["VGG-16"] == 15_470_264_320  # "15.5 GFLOPs"
    assert macs["ResNet-50"] == 4_089_184_256  # "4.1 GFLOPs"
    assert macs["ResNet-18"] == 1_814_073_344  # "1.8 GFLOPs"
    assert macs["AlexNet"] == 714_188_480
    vgg = nets.vgg16()
    last_conv = max(i for i, layer in enumerate(vgg) if layer["type"] == "conv")
    assert ref.receptive_fields(vgg, nets.IMAGENET)[last_conv] == 196


def test_projection_shortcuts_and_bn_in_resnet18(ref):
    """ResNet-18 without its three projection shortcuts, or with BN's running statistics
    counted, has other parameter counts (what two of the named mistakes compute)."""
    layers, in_shape, count = nets.FAMOUS["ResNet-18"]
    projections = sum(C * F + 2 * F for C, F in ((64, 128), (128, 256), (256, 512)))
    modules, _ = build(layers, in_shape)
    downsample = sum(
        p.numel() for m in modules if isinstance(m, BasicBlock) and m.downsample is not None
        for p in m.downsample.parameters()
    )  # fmt: skip
    assert downsample == projections
    bn_buffers = sum(
        m.running_mean.numel() + m.running_var.numel()
        for module in modules
        for m in module.modules()
        if isinstance(m, nn.BatchNorm2d)
    )
    assert Arith(projection=False).summary(layers, in_shape)["total_params"] == count - downsample
    assert Arith(bn_per_channel=4).summary(layers, in_shape)["total_params"] == count + bn_buffers


@given(seed=seeds, blocks=st.booleans(), head=st.booleans())
def test_random_networks_match_torch(ref, seed, blocks, head):
    layers, in_shape = topic_inputs.random_net(np.random.default_rng(seed), blocks, head, 6)
    _agrees(ref, layers, in_shape)


# -- output sizes ----------------------------------------------------------------------------------
@given(size=st.integers(1, 60), kernel=st.integers(1, 7), stride=st.integers(1, 4), data=st.data())
def test_conv_output_size_matches_torch(ref, size, kernel, stride, data):
    pad = data.draw(st.integers(0, kernel // 2), label="pad")
    assume(size + 2 * pad >= kernel)
    x = torch.zeros((1, 1, size, size), device="meta")
    for ceil_mode in (False, True):
        pooled = nn.MaxPool2d(kernel, stride, pad, ceil_mode=ceil_mode)(x)
        assert ref.conv_output_size(size, kernel, stride, pad, ceil_mode) == pooled.shape[2]
    conv = nn.Conv2d(1, 1, kernel, stride, pad, device="meta")(x)
    assert ref.conv_output_size(size, kernel, stride, pad) == conv.shape[2]


def test_conv_output_size_refuses_a_kernel_larger_than_the_input(ref):
    with pytest.raises(ValueError):
        ref.conv_output_size(3, 7, 1, 1)


# -- receptive fields ------------------------------------------------------------------------------
def _measured_receptive_field(layers: list[dict], size: int) -> tuple[int, bool]:
    """(rows of the input that the centre output of the last layer depends on, whether that
    support stays clear of the border), by autograd on a one-channel copy of the network."""
    modules, shapes = build(layers, (1, size, size), device="cpu", width=1)
    with torch.no_grad():
        for module in modules:
            for name, p in module.named_parameters():
                p.fill_(0.1 if name.endswith("bias") else 1.0)
    x = torch.ones((1, 1, size, size), dtype=torch.float64, requires_grad=True)
    out = x
    for module in modules:
        out = module(out)
    _, _, H, W = out.shape
    out[0, 0, H // 2, W // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    first, last = int(rows.min()), int(rows.max())
    return last - first + 1, first > 0 and last < size - 1


@given(seed=seeds, blocks=st.booleans())
def test_receptive_fields_match_autograd(ref, seed, blocks):
    rng = np.random.default_rng(seed)
    layers, in_shape = topic_inputs.random_net(rng, blocks, False, 4)
    rfs = ref.receptive_fields(layers, in_shape)
    # the jump after all layers: enough room on each side of the centre output's window
    jump = int(np.prod([layer.get("stride", layer["kernel"] if layer["type"] == "pool" else 1)
                        for layer in layers]))  # fmt: skip
    size = 2 * rfs[-1] + 4 * jump + 16
    for depth in range(1, len(layers) + 1):
        measured, inside = _measured_receptive_field(layers[:depth], size)
        assert inside, "the test input is too small"
        assert measured == rfs[depth - 1], f"after {depth} layers"


@given(seed=seeds, kind=st.sampled_from(["gap", "fc"]), blocks=st.booleans())
def test_gap_and_fc_see_their_whole_input_as_a_kernel_would(ref, seed, kind, blocks):
    """gap and fc on an H x H map grow the receptive field as a kernel H x H would."""
    layers, (C, H, W) = topic_inputs.random_net(np.random.default_rng(seed), blocks, False, 3)
    in_shape = (C, max(H, W), max(H, W))  # square maps all the way
    size = ref.network_summary(layers, in_shape)["out_shapes"][-1][1]
    as_kernel = ref.receptive_fields([*layers, nets.conv(4, size)], in_shape)[-1]
    head = [*layers, {"type": kind, "out_features": 5}]
    assert ref.receptive_fields(head, in_shape)[-1] == as_kernel
    # an fc after the head sees a vector: it adds nothing
    assert ref.receptive_fields([*head, nets.fc(3)], in_shape)[-1] == as_kernel


# -- bottleneck and inception ----------------------------------------------------------------------
@given(
    C_in=st.integers(1, 512), C_mid=st.integers(1, 128), C_out=st.integers(1, 512),
    H=st.integers(1, 56), W=st.integers(1, 56), kernel=st.sampled_from([1, 3, 5, 7]),
)  # fmt: skip
def test_bottleneck_cost_matches_torch(ref, C_in, C_mid, C_out, H, W, kernel):
    kw = {"device": "meta"}
    x = torch.zeros((1, C_in, H, W), **kw)
    direct = nn.Conv2d(C_in, C_out, kernel, 1, kernel // 2, **kw)
    reduced = nn.Sequential(
        nn.Conv2d(C_in, C_mid, 1, **kw), nn.Conv2d(C_mid, C_out, kernel, 1, kernel // 2, **kw)
    )
    assert direct(x).shape == reduced(x).shape == (1, C_out, H, W)
    want_direct, want_reduced = count_macs(direct, x), count_macs(reduced, x)
    assert ref.bottleneck_cost(C_in, C_mid, C_out, H, W, kernel) == (
        want_direct,
        want_reduced,
        pytest.approx(want_direct / want_reduced, rel=1e-15),
    )


class Inception(nn.Module):
    """GoogLeNet's inception module (v1): four branches, concatenated along the channels."""

    def __init__(self, C: int, cfg: dict[str, int]) -> None:
        super().__init__()

        def conv(c_in: int, c_out: int, k: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, 1, k // 2, device="meta"), nn.ReLU())

        self.branches = nn.ModuleList(
            [
                conv(C, cfg["1x1"], 1),
                nn.Sequential(
                    conv(C, cfg["3x3_reduce"], 1), conv(cfg["3x3_reduce"], cfg["3x3"], 3)
                ),
                nn.Sequential(
                    conv(C, cfg["5x5_reduce"], 1), conv(cfg["5x5_reduce"], cfg["5x5"], 5)
                ),
                nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(C, cfg["pool_proj"], 1)),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


inception_keys = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")


@given(
    C=st.integers(1, 512), H=st.integers(1, 32), W=st.integers(1, 32),
    widths=st.tuples(*[st.integers(1, 256)] * 6),
)  # fmt: skip
def test_inception_module_matches_torch(ref, C, H, W, widths):
    _check_inception(ref, (C, H, W), dict(zip(inception_keys, widths)))


@pytest.mark.parametrize("case", [topic_inputs.INCEPTION_3A, topic_inputs.INCEPTION_5B])
def test_googlenet_inception_modules(ref, case):
    in_shape, cfg = case
    out_shape, params, macs = _check_inception(ref, in_shape, cfg)
    assert out_shape[0] == (256 if in_shape[0] == 192 else 1024)
    if in_shape[0] == 192:
        assert macs == 128_049_152  # GoogLeNet's Table 1: 128M ops for inception (3a)


def _check_inception(ref: ModuleType, in_shape: tuple, cfg: dict) -> tuple:
    module = Inception(in_shape[0], cfg)
    x = torch.zeros((1, *in_shape), device="meta")
    found = ref.inception_module(in_shape, cfg)
    assert found == (
        tuple(module(x).shape[1:]),
        sum(p.numel() for p in module.parameters()),
        count_macs(module, x),
    )
    return found


# -- the residual block ----------------------------------------------------------------------------
def _leaf(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).requires_grad_(True)


def _torch_block(x: torch.Tensor, p: dict[str, torch.Tensor], stride: int, eps: float):
    def bn(h: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return TF.batch_norm(h, None, None, gamma, beta, training=True, eps=eps)

    h = torch.relu(bn(TF.conv2d(x, p["w1"], stride=stride, padding=1), p["gamma1"], p["beta1"]))
    main = bn(TF.conv2d(h, p["w2"], padding=1), p["gamma2"], p["beta2"])
    shortcut = x
    if "ws" in p:
        shortcut = bn(TF.conv2d(x, p["ws"], stride=stride), p["gammas"], p["betas"])
    return torch.relu(main + shortcut)


@given(
    N=st.integers(1, 3), C=st.integers(1, 4), F=st.integers(1, 4), H=st.integers(2, 7),
    W=st.integers(2, 7), stride=st.sampled_from([1, 2]), seed=seeds,
    eps=st.sampled_from([1e-5, 1e-3]),
)  # fmt: skip
def test_residual_block_matches_torch(ref, assert_close, N, C, F, H, W, stride, seed, eps):
    assume(N * ((H - 1) // stride + 1) * ((W - 1) // stride + 1) >= 2)  # BN needs 2 values
    rng = np.random.default_rng(seed)
    x, params, block_param = topic_inputs.block_args(N, C, F, H, W, stride)(rng)
    block_param["eps"] = eps
    before = {k: v.copy() for k, v in params.items()}
    out, cache = ref.residual_block_forward(x, params, block_param)
    dout = rng.standard_normal(out.shape)
    dx, grads = ref.residual_block_backward(dout, cache)

    xt = _leaf(x)
    pt = {k: _leaf(v) for k, v in params.items()}
    out_t = _torch_block(xt, pt, stride, eps)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), rtol=1e-9, what="out")
    assert_close(dx, xt.grad.numpy(), rtol=1e-9, what="dx")
    assert sorted(grads) == sorted(params)
    for key in params:
        assert_close(grads[key], pt[key].grad.numpy(), rtol=1e-9, what=f"grads[{key}]")
        np.testing.assert_array_equal(params[key], before[key])  # params unchanged


def test_identity_block_refuses_a_change_of_shape(ref):
    x, params, block_param = topic_inputs.block_args(2, 2, 3, 5)(np.random.default_rng(0))
    for key in ("ws", "gammas", "betas"):
        del params[key]
    with pytest.raises(ValueError):
        ref.residual_block_forward(x, params, block_param)


@given(
    N=st.integers(1, 3), C=st.integers(1, 4), F=st.integers(1, 4), H=st.integers(3, 8),
    k=st.sampled_from([1, 3, 5]), stride=st.integers(1, 3), seed=seeds,
)  # fmt: skip
def test_given_conv_matches_torch(ref, assert_close, N, C, F, H, k, stride, seed):
    rng = np.random.default_rng(seed)
    pad = k // 2
    x, w = rng.standard_normal((N, C, H, H + 1)), rng.standard_normal((F, C, k, k))
    out, cache = ref.conv2d_forward(x, w, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw = ref.conv2d_backward(dout, cache)
    xt, wt = _leaf(x), _leaf(w)
    out_t = TF.conv2d(xt, wt, stride=stride, padding=pad)
    out_t.backward(torch.from_numpy(dout))
    _close_all(assert_close, (out, dx, dw), (out_t, xt.grad, wt.grad))


@given(N=st.integers(1, 3), C=st.integers(1, 4), H=st.integers(1, 5), seed=seeds)
def test_given_batchnorm_matches_torch(ref, assert_close, N, C, H, seed):
    assume(N * H * (H + 1) >= 2)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, H + 1))
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    out, cache = ref.batchnorm2d_forward(x, gamma, beta, 1e-5)
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = ref.batchnorm2d_backward(dout, cache)
    xt, gt, bt = _leaf(x), _leaf(gamma), _leaf(beta)
    out_t = TF.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    out_t.backward(torch.from_numpy(dout))
    _close_all(assert_close, (out, dx, dgamma, dbeta), (out_t, xt.grad, gt.grad, bt.grad))


def _close_all(assert_close: Callable[..., None], ours: tuple, theirs: tuple) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a, b.detach().numpy(), rtol=1e-9, what=f"output {i}")
