"""Topic ``quantization``: model compression, declared in four part modules beside this one:
- ``affine``: affine and per-channel quantization, scale and zero point;
- ``integer``: fake quantization (straight-through estimator), integer linear layer;
- ``compress``: magnitude and threshold pruning, k-means weight sharing and Deep
  Compression's storage arithmetic;
- ``train``: knowledge distillation and dynamic loss scaling.

Declarations only: this module names the topic and its functions (in teaching order) and
gathers the parts' checks and known mistakes.
"""

from __future__ import annotations

from grader.checks.base import Check
from grader.topics.quantization import affine as quantization_affine
from grader.topics.quantization import compress as quantization_compress
from grader.topics.quantization import integer as quantization_integer
from grader.topics.quantization import train as quantization_train

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "quantization"
SUMMARY = (
    "affine (per tensor and per channel), fake quantization (STE), integer linear layer, "
    "pruning, k-means weight sharing, distillation, dynamic loss scaling"
)
WORKER_SETUP = ""
FUNCTIONS = (
    "quantize",
    "dequantize",
    "choose_qparams",
    "choose_qparams_per_channel",
    "quantize_per_channel",
    "dequantize_per_channel",
    "fake_quantize_forward",
    "fake_quantize_backward",
    "quantized_linear",
    "magnitude_prune",
    "threshold_prune",
    "apply_mask",
    "kmeans_quantize",
    "centroid_gradient",
    "compressed_size_bits",
    "distillation_loss",
    "DynamicLossScaler",
)
MISCONCEPTIONS = (
    quantization_affine.MISCONCEPTIONS
    + quantization_integer.MISCONCEPTIONS
    + quantization_compress.MISCONCEPTIONS
    + quantization_train.MISCONCEPTIONS
)


def checks() -> list[Check]:
    return (
        quantization_affine.checks(TOPIC)
        + quantization_integer.checks(TOPIC)
        + quantization_compress.checks(TOPIC)
        + quantization_train.checks(TOPIC)
    )
