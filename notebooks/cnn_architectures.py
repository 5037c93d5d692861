# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CNN architectures: shapes, parameters, cost, receptive fields
#
# For a convolution with $F$ filters of size $k \times k$ on a $(C, H, W)$ input, with stride
# $s$ and padding $p$:
#
# $$H' = 1 + \Big\lfloor \frac{H + 2p - k}{s} \Big\rfloor, \qquad
#   \text{params} = F\,(C k^2 + 1), \qquad \text{MACs} = F\, H' W'\, C k^2 .$$
#
# The receptive field grows by $(k - 1)\,j$ per layer, $j$ being the product of the strides
# before it. A $1 \times 1$ bottleneck $C \to C_{mid}$ in front of a $k \times k$ convolution
# cuts its cost by about $C / C_{mid}$.
#
# Networks are lists of layer dicts (`{"type": "conv", "out_channels": 64, "kernel": 3, ...}`,
# see the module docstring of `assignments/cnn_architectures.py`).

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import cnn_architectures as cnn  # noqa: E402  (your assignments/cnn_architectures.py)

# %%
notebook.check("cnn_architectures")

# %% [markdown]
# ## Five famous networks as layer lists

# %%
RELU, BN, GAP = {"type": "relu"}, {"type": "bn"}, {"type": "gap"}


def conv(f, k, s=1, p=0, bias=True):
    return {"type": "conv", "out_channels": f, "kernel": k, "stride": s, "pad": p, "bias": bias}


def pool(k, s=None, p=0):
    return {"type": "pool", "kernel": k, "stride": s or k, "pad": p}


def fc(m):
    return {"type": "fc", "out_features": m}


def resnet(block, stages):
    layers = [conv(64, 7, 2, 3, bias=False), BN, RELU, pool(3, 2, 1)]
    for stage, (width, count) in enumerate(stages):
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            if block == "basic":
                layers.append({"type": "basic_block", "out_channels": width, "stride": stride})
            else:
                layers.append(
                    {
                        "type": "bottleneck_block",
                        "mid_channels": width,
                        "out_channels": 4 * width,
                        "stride": stride,
                    }
                )
    return layers + [GAP, fc(1000)]


vgg16 = []
for item in (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
):
    vgg16 += [pool(2)] if item == "M" else [conv(item, 3, 1, 1), RELU]
vgg16 += [fc(4096), RELU, fc(4096), RELU, fc(1000)]
networks = {
    "LeNet-5": (
        [
            conv(6, 5),
            RELU,
            pool(2),
            conv(16, 5),
            RELU,
            pool(2),
            fc(120),
            RELU,
            fc(84),
            RELU,
            fc(10),
        ],
        (1, 32, 32),
    ),
    "AlexNet": (
        [
            conv(64, 11, 4, 2),
            RELU,
            pool(3, 2),
            conv(192, 5, 1, 2),
            RELU,
            pool(3, 2),
            conv(384, 3, 1, 1),
            RELU,
            conv(256, 3, 1, 1),
            RELU,
            conv(256, 3, 1, 1),
            RELU,
            pool(3, 2),
            fc(4096),
            RELU,
            fc(4096),
            RELU,
            fc(1000),
        ],
        (3, 224, 224),
    ),
    "VGG-16": (vgg16, (3, 224, 224)),
    "ResNet-18": (resnet("basic", [(64, 2), (128, 2), (256, 2), (512, 2)]), (3, 224, 224)),
    "ResNet-50": (resnet("bottleneck", [(64, 3), (128, 4), (256, 6), (512, 3)]), (3, 224, 224)),
}
summaries = {}
with notebook.needs("network_summary"):
    for name, (layers, shape) in networks.items():
        summaries[name] = cnn.network_summary(layers, shape)
        s = summaries[name]
        print(
            f"{name:10} {s['total_params']:>13,} parameters {s['total_macs'] / 1e9:8.3f} GMACs"
            f"   output {s['out_shapes'][-1]}, receptive field {s['receptive_fields'][-1]}"
        )

# %%
with notebook.needs("the summaries above"):
    notebook.ready(summaries or None)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, s in summaries.items():
        ax.scatter(s["total_macs"], s["total_params"], s=60)
        ax.annotate(
            name, (s["total_macs"], s["total_params"]), xytext=(5, 5), textcoords="offset points"
        )
    ax.set(xscale="log", yscale="log", xlabel="MACs per image", ylabel="parameters")
    plt.show()

# %% [markdown]
# ## Where VGG-16 keeps its parameters, and where it spends its time
# The three fully connected layers hold most of the parameters; the convolutions do most of
# the work. (ResNets replace the big fc layers with global average pooling.)

# %%
with notebook.needs("the summaries above"):
    notebook.ready(summaries.get("VGG-16"))
    s = summaries["VGG-16"]
    keep = [i for i, layer in enumerate(vgg16) if layer["type"] in ("conv", "fc")]
    names = [f"{vgg16[i]['type']}{n + 1}" for n, i in enumerate(keep)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
    ax1.bar(names, [s["params"][i] / 1e6 for i in keep], color="C0")
    ax1.set(ylabel="M parameters")
    ax2.bar(names, [s["macs"][i] / 1e9 for i in keep], color="C1")
    ax2.set(ylabel="GMACs")
    ax2.tick_params(axis="x", rotation=60)
    plt.show()

# %% [markdown]
# ## Receptive fields through depth
# How many input pixels one unit of each layer sees (height axis): the strides of the stem make
# ResNet's grow fast.

# %%
with notebook.needs("receptive_fields"):
    fig, ax = plt.subplots(figsize=(7, 3))
    for name in ("VGG-16", "ResNet-18", "ResNet-50"):
        layers, shape = networks[name]
        fields = cnn.receptive_fields(layers, shape)
        ax.plot(np.linspace(0, 1, len(fields)), fields, "o-", markersize=3, label=name)
    ax.axhline(224, color="gray", linestyle=":", label="input size")
    ax.set(xlabel="relative depth", ylabel="receptive field (pixels)", yscale="log")
    ax.legend()
    plt.show()

# %% [markdown]
# ## What a 1x1 bottleneck saves
# A $3 \times 3$ convolution $256 \to 256$ on a $28 \times 28$ map, directly or after a
# $1 \times 1$ reduction to $C_{mid}$ channels (`bottleneck_cost`).

# %%
with notebook.needs("bottleneck_cost"):
    mids = [16, 32, 64, 128, 256]
    savings = {k: [cnn.bottleneck_cost(256, m, 256, 28, 28, k)[2] for m in mids] for k in (3, 5, 7)}
    fig, ax = plt.subplots(figsize=(6, 3))
    for k, values in savings.items():
        ax.plot(mids, values, "o-", label=f"{k}x{k} convolution")
    ax.set(xlabel="C_mid", ylabel="times cheaper", xscale="log", yscale="log")
    ax.set_xticks(mids, [str(m) for m in mids])
    ax.legend()
    plt.show()
