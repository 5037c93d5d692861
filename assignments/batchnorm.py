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
    raise NotImplementedError("batchnorm_forward: your code here (see the docstring)")
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
    raise NotImplementedError("batchnorm_backward: your code here (see the docstring)")
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
    raise NotImplementedError("batchnorm_backward_alt: your code here (see the docstring)")
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
    raise NotImplementedError("layernorm_forward: your code here (see the docstring)")
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
    raise NotImplementedError("layernorm_backward: your code here (see the docstring)")
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
    raise NotImplementedError("spatial_batchnorm_forward: your code here (see the docstring)")
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
    raise NotImplementedError("spatial_batchnorm_backward: your code here (see the docstring)")
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
    raise NotImplementedError("spatial_groupnorm_forward: your code here (see the docstring)")
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
    raise NotImplementedError("spatial_groupnorm_backward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****
