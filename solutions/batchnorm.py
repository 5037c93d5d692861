"""Normalisation layers: batch, layer, spatial batch and spatial group normalisation
(CS231n: layers.py).

Conventions shared by every function in this module:

- ``xxx_forward(...) -> (out, cache)``; ``xxx_backward(dout, cache) -> (dx, dgamma, dbeta)``.
- Batch normalisation (and spatial batch normalisation) uses the BIASED batch variance
  ``x.var(axis=0)`` (divide by N, not N - 1), in the output and in the running average.
- ``bn_param`` is a dict: ``mode`` 'train' or 'test' (any other value raises ValueError),
  ``eps`` (default 1e-5), ``momentum`` (default 0.9), ``running_mean`` / ``running_var``
  (default zeros of shape (D,)). In train mode the running statistics are updated as
  ``running = momentum * running + (1 - momentum) * batch_statistic`` and written back into
  ``bn_param`` (new arrays are stored; the arrays passed in are not modified in place). In test
  mode the output uses the running statistics, still scaled by gamma and shifted by beta, and
  bn_param is left as it is.
- Test mode has no backward pass: its cache is None.
- ``ln_param`` and ``gn_param`` may carry ``eps`` (default 1e-5); other keys are ignored.
- gamma and beta are (D,) for batch and layer normalisation, (C,) for spatial batch
  normalisation and (1, C, 1, 1) for spatial group normalisation (whose dgamma and dbeta are
  returned as (1, C, 1, 1) too).
- Group normalisation splits the C channels into G groups of C // G CONSECUTIVE channels
  (channels 0 .. C//G - 1 form group 0); C must be divisible by G.
- Outputs have float64 dtype for float64 inputs; no function modifies x, gamma or beta.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Cache = tuple[Any, ...]


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]
) -> tuple[np.ndarray, Cache | None]:
    """Forward pass of batch normalisation.

    Train mode: out = gamma * (x - mean) / sqrt(var + eps) + beta with the mean and the biased
    variance of this batch (per feature, over the N examples); the running averages are updated
    as running = momentum * running + (1 - momentum) * batch statistic and stored in bn_param.
    Test mode: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.

    Inputs:
    - x: float64 array of shape (N, D).
    - gamma: float64 array of shape (D,), scale.
    - beta: float64 array of shape (D,), shift.
    - bn_param: dict with the keys
      - mode: 'train' or 'test' (required; anything else raises ValueError).
      - eps: float, added to the variance (default 1e-5).
      - momentum: float, weight of the old running average (default 0.9).
      - running_mean: float64 array of shape (D,) (default zeros).
      - running_var: float64 array of shape (D,) (default zeros).
      In train mode running_mean and running_var are (re)written into this dict.

    Returns a tuple of:
    - out: float64 array of shape (N, D).
    - cache: train mode: the tuple (x, x_hat, mean, var, gamma, beta, eps) with x_hat
      (N, D) the normalised input and mean, var (D,) the batch statistics; test mode: None.
    """
    # ***** START OF YOUR CODE *****
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'invalid batchnorm mode "{mode}"; expected "train" or "test"')
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * x_hat + beta, None
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    out = gamma * x_hat + beta
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    cache = (x, x_hat, mean, var, gamma, beta, eps)
    return out, cache
    # ***** END OF YOUR CODE *****


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batch normalisation (train mode), step by step through the graph
    x -> x - mean -> / sqrt(var + eps) -> * gamma + beta.

    Inputs:
    - dout: float64 array of shape (N, D), upstream derivative.
    - cache: the tuple (x, x_hat, mean, var, gamma, beta, eps) from batchnorm_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, D).
    - dgamma: float64 array of shape (D,).
    - dbeta: float64 array of shape (D,).
    """
    # ***** START OF YOUR CODE *****
    x, x_hat, mean, var, gamma, beta, eps = cache
    N = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    std = np.sqrt(var + eps)
    centered = x - mean
    dx_hat = dout * gamma
    dcentered = dx_hat / std  # through x_hat = centered / std
    dstd = -np.sum(dx_hat * centered, axis=0) / std**2
    dvar = 0.5 * dstd / std
    dcentered = dcentered + 2.0 * centered * dvar / N  # through var = mean(centered**2)
    dmean = -np.sum(dcentered, axis=0)
    dx = dcentered + dmean / N
    return dx, dgamma, dbeta
    # ***** END OF YOUR CODE *****


def batchnorm_backward_alt(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batch normalisation in one simplified expression:
    dx = gamma / (N * sqrt(var + eps)) * (N * dout - sum(dout) - x_hat * sum(dout * x_hat)),
    sums over the batch axis.

    Inputs and outputs as batchnorm_backward (same cache, from batchnorm_forward).
    - dout: float64 array of shape (N, D).
    - cache: the tuple (x, x_hat, mean, var, gamma, beta, eps).

    Returns a tuple of:
    - dx: float64 array of shape (N, D).
    - dgamma: float64 array of shape (D,).
    - dbeta: float64 array of shape (D,).
    """
    # ***** START OF YOUR CODE *****
    x, x_hat, mean, var, gamma, beta, eps = cache
    N = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
    # ***** END OF YOUR CODE *****


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict[str, Any]
) -> tuple[np.ndarray, Cache]:
    """Forward pass of layer normalisation: each example is normalised over its D features
    (mean and biased variance per row), then scaled by gamma and shifted by beta per feature.
    The same computation at train and test time; nothing is stored in ln_param.

    Inputs:
    - x: float64 array of shape (N, D).
    - gamma: float64 array of shape (D,), scale.
    - beta: float64 array of shape (D,), shift.
    - ln_param: dict, may hold eps (default 1e-5); other keys are ignored.

    Returns a tuple of:
    - out: float64 array of shape (N, D).
    - cache: the tuple (x_hat, gamma, inv_std) with x_hat (N, D) and inv_std (N, 1) =
      1 / sqrt(var + eps) per example.
    """
    # ***** START OF YOUR CODE *****
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    return out, (x_hat, gamma, inv_std)
    # ***** END OF YOUR CODE *****


def layernorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of layer normalisation.

    Inputs:
    - dout: float64 array of shape (N, D), upstream derivative.
    - cache: the tuple (x_hat, gamma, inv_std) from layernorm_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, D).
    - dgamma: float64 array of shape (D,).
    - dbeta: float64 array of shape (D,).
    """
    # ***** START OF YOUR CODE *****
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = inv_std * (
        dx_hat
        - dx_hat.mean(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True)
    )
    return dx, dgamma, dbeta
    # ***** END OF YOUR CODE *****


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]
) -> tuple[np.ndarray, Cache | None]:
    """Forward pass of spatial batch normalisation: batch normalisation of each channel, with
    statistics over the N * H * W values of that channel (axes 0, 2 and 3).

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - gamma: float64 array of shape (C,), scale per channel.
    - beta: float64 array of shape (C,), shift per channel.
    - bn_param: dict as for batchnorm_forward (mode, eps, momentum, running_mean,
      running_var), running statistics of shape (C,), updated in train mode.

    Returns a tuple of:
    - out: float64 array of shape (N, C, H, W).
    - cache: train mode: batchnorm_forward's cache for x laid out as (N * H * W, C);
      test mode: None.
    """
    # ***** START OF YOUR CODE *****
    N, C, H, W = x.shape
    columns = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(columns, gamma, beta, bn_param)
    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache
    # ***** END OF YOUR CODE *****


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of spatial batch normalisation.

    Inputs:
    - dout: float64 array of shape (N, C, H, W), upstream derivative.
    - cache: the cache from spatial_batchnorm_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W).
    - dgamma: float64 array of shape (C,).
    - dbeta: float64 array of shape (C,).
    """
    # ***** START OF YOUR CODE *****
    N, C, H, W = dout.shape
    columns = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(columns, cache)
    dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta
    # ***** END OF YOUR CODE *****


def spatial_groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict[str, Any]
) -> tuple[np.ndarray, Cache]:
    """Forward pass of spatial group normalisation: for each example, the C channels are split
    into G groups of C // G consecutive channels, and each group is normalised with the mean
    and biased variance of its (C // G) * H * W values; then scaled and shifted per channel.

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - gamma: float64 array of shape (1, C, 1, 1), scale per channel.
    - beta: float64 array of shape (1, C, 1, 1), shift per channel.
    - G: int, number of groups; C must be divisible by G (G = 1 is layer normalisation over
      (C, H, W), G = C is instance normalisation).
    - gn_param: dict, may hold eps (default 1e-5); other keys are ignored.

    Returns a tuple of:
    - out: float64 array of shape (N, C, H, W).
    - cache: the tuple (x_hat, gamma, inv_std, G) with x_hat (N, C, H, W) and inv_std
      (N, G, 1, 1, 1) = 1 / sqrt(var + eps) per example and group.
    """
    # ***** START OF YOUR CODE *****
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    groups = x.reshape(N, G, C // G, H, W)
    mean = groups.mean(axis=(2, 3, 4), keepdims=True)
    var = groups.var(axis=(2, 3, 4), keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = ((groups - mean) * inv_std).reshape(N, C, H, W)
    out = gamma * x_hat + beta
    return out, (x_hat, gamma, inv_std, G)
    # ***** END OF YOUR CODE *****


def spatial_groupnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of spatial group normalisation.

    Inputs:
    - dout: float64 array of shape (N, C, H, W), upstream derivative.
    - cache: the tuple (x_hat, gamma, inv_std, G) from spatial_groupnorm_forward.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W).
    - dgamma: float64 array of shape (1, C, 1, 1).
    - dbeta: float64 array of shape (1, C, 1, 1).
    """
    # ***** START OF YOUR CODE *****
    x_hat, gamma, inv_std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    dx_hat = (dout * gamma).reshape(N, G, -1)
    x_hat_groups = x_hat.reshape(N, G, -1)
    dx = inv_std.reshape(N, G, 1) * (
        dx_hat
        - dx_hat.mean(axis=2, keepdims=True)
        - x_hat_groups * (dx_hat * x_hat_groups).mean(axis=2, keepdims=True)
    )
    return dx.reshape(N, C, H, W), dgamma, dbeta
    # ***** END OF YOUR CODE *****
