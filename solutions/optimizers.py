"""First-order update rules and learning-rate schedules (CS231n: optim.py).

Conventions shared by every update rule in this module:

- ``update(w, dw, config=None) -> (next_w, config)``. ``w`` and ``dw`` are float64 arrays of the
  same (any) shape; ``next_w`` is a float64 array of that shape. Updating ``w`` in place is
  allowed (return it as ``next_w``); ``dw`` must not be modified.
- ``config`` holds the hyperparameters and the optimizer's state. ``None`` means an empty dict;
  every missing hyperparameter gets its default (``config.setdefault``), and missing state starts
  at zero. The returned ``config`` (the same dict, or a new one) holds every hyperparameter and
  the UPDATED state, so that passing it back on the next call continues the run. State that is
  computed but not stored in ``config`` is lost: every step would then start from the old state.
- State arrays (``velocity``, ``cache``, ``m``, ``v``) are float64 arrays shaped like ``w``; Adam's
  step counter ``t`` is a Python int that starts at 0 and is incremented BEFORE it is used, so
  the first update uses t = 1.
- Velocity-based rules keep CS231n's velocity ``v``, which includes the learning rate. PyTorch's
  ``torch.optim.SGD`` keeps a momentum buffer ``b`` without it (``b = mu*b + dw; w -= lr*b``);
  with a constant learning rate the two are the same run, with ``v = -lr * b``. They differ
  only when the learning rate changes between steps. No weight decay or dampening here.

Learning-rate schedules are pure functions of the integer step (0, 1, 2, ...) that return the
learning rate (a Python float) to use at that step; they match ``torch.optim.lr_scheduler`` when
the scheduler's ``last_epoch`` equals ``step`` (see each function).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Config = dict[str, Any]


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    Inputs:
    - w: float64 array of any shape, the current weights.
    - dw: float64 array of the same shape, the gradient of the loss with respect to w.
    - config: dict or None, with
      - learning_rate: float, default 1e-2.

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with learning_rate set.
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config
    # ***** END OF YOUR CODE *****


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """Stochastic gradient descent with (classical) momentum.

    v = momentum * v - learning_rate * dw;  next_w = w + v.
    (v = momentum * v + learning_rate * dw;  next_w = w - v is the same rule with v negated.)
    Same as torch.optim.SGD(momentum=momentum) for a constant learning rate, with
    velocity = -learning_rate * momentum_buffer.

    Inputs:
    - w: float64 array of any shape, the current weights.
    - dw: float64 array of the same shape, the gradient of the loss with respect to w.
    - config: dict or None, with
      - learning_rate: float, default 1e-2.
      - momentum: float in [0, 1), default 0.9.
      - velocity: float64 array of w's shape, default zeros (state).

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with the hyperparameters and the new velocity.
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config
    # ***** END OF YOUR CODE *****


def nesterov_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """Nesterov momentum in the CS231n 2017 form (the "lookahead" variable form).

    w here is the lookahead point x + momentum * v and dw is the gradient there:
    v_prev = v;  v = momentum * v - learning_rate * dw;
    next_w = w - momentum * v_prev + (1 + momentum) * v.
    Same as torch.optim.SGD(momentum=momentum, nesterov=True) for a constant learning rate, with
    velocity = -learning_rate * momentum_buffer: torch's
    w -= lr * (dw + momentum * b) expands to the same update.

    Inputs:
    - w: float64 array of any shape, the current (lookahead) weights.
    - dw: float64 array of the same shape, the gradient of the loss at w.
    - config: dict or None, with
      - learning_rate: float, default 1e-2.
      - momentum: float in [0, 1), default 0.9.
      - velocity: float64 array of w's shape, default zeros (state).

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with the hyperparameters and the new velocity.
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    next_w = w - mu * v_prev + (1 + mu) * v
    config["velocity"] = v
    return next_w, config
    # ***** END OF YOUR CODE *****


def adagrad(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """Adagrad: per-parameter learning rates scaled by the accumulated squared gradients.

    cache = cache + dw**2;  next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).
    Same as torch.optim.Adagrad(lr, eps=epsilon) (epsilon outside the square root, accumulator
    starting at 0 = initial_accumulator_value, lr_decay = 0).

    Inputs:
    - w: float64 array of any shape, the current weights.
    - dw: float64 array of the same shape, the gradient of the loss with respect to w.
    - config: dict or None, with
      - learning_rate: float, default 1e-2.
      - epsilon: float, default 1e-8.
      - cache: float64 array of w's shape, default zeros (state: the sum of dw**2).

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with the hyperparameters and the new cache.
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w)) + dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config
    # ***** END OF YOUR CODE *****


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """RMSProp: a moving average of squared gradients sets per-parameter learning rates.

    cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).
    Same as torch.optim.RMSprop(lr, alpha=decay_rate, eps=epsilon) (epsilon outside the square
    root, centered=False, momentum=0).

    Inputs:
    - w: float64 array of any shape, the current weights.
    - dw: float64 array of the same shape, the gradient of the loss with respect to w.
    - config: dict or None, with
      - learning_rate: float, default 1e-2.
      - decay_rate: float in [0, 1), default 0.99.
      - epsilon: float, default 1e-8.
      - cache: float64 array of w's shape, default zeros (state: the moving average of dw**2).

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with the hyperparameters and the new cache.
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    rho = config["decay_rate"]
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config
    # ***** END OF YOUR CODE *****


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam: moving averages of the gradient and its square, with bias correction.

    t = t + 1 (before use);  m = beta1 * m + (1 - beta1) * dw;
    v = beta2 * v + (1 - beta2) * dw**2;
    m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t);
    next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon).
    Same as torch.optim.Adam(lr, betas=(beta1, beta2), eps=epsilon) (epsilon outside the square
    root of the bias-corrected v, amsgrad=False, no weight decay).

    Inputs:
    - w: float64 array of any shape, the current weights.
    - dw: float64 array of the same shape, the gradient of the loss with respect to w.
    - config: dict or None, with
      - learning_rate: float, default 1e-3.
      - beta1: float in [0, 1), default 0.9.
      - beta2: float in [0, 1), default 0.999.
      - epsilon: float, default 1e-8.
      - m: float64 array of w's shape, default zeros (state: the moving average of dw).
      - v: float64 array of w's shape, default zeros (state: the moving average of dw**2).
      - t: int, default 0 (state: the number of updates made so far).

    Returns a tuple of:
    - next_w: float64 array of w's shape, the updated weights.
    - config: the config dict, with the hyperparameters and the new m, v and t (an int).
    """
    # ***** START OF YOUR CODE *****
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = int(config.get("t", 0)) + 1
    m = beta1 * config.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * config.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
    # ***** END OF YOUR CODE *****


def step_decay(step: int, lr0: float, drop: float, every: int) -> float:
    """Step decay: the learning rate is multiplied by ``drop`` every ``every`` steps.

    lr = lr0 * drop ** (step // every)  (a staircase: constant for ``every`` steps at a time).
    Matches torch.optim.lr_scheduler.StepLR(step_size=every, gamma=drop) after ``step`` calls
    of scheduler.step().

    Inputs:
    - step: int >= 0, the step (or epoch) number; step 0 uses lr0.
    - lr0: float > 0, the initial learning rate.
    - drop: float in (0, 1], the factor applied at every drop.
    - every: int >= 1, the number of steps between drops.

    Returns:
    - lr: float, the learning rate at ``step``.
    """
    # ***** START OF YOUR CODE *****
    return float(lr0 * drop ** (step // every))
    # ***** END OF YOUR CODE *****


def exponential_decay(step: int, lr0: float, gamma: float) -> float:
    """Exponential decay: lr = lr0 * gamma ** step.

    Matches torch.optim.lr_scheduler.ExponentialLR(gamma=gamma) after ``step`` calls of
    scheduler.step().

    Inputs:
    - step: int >= 0, the step (or epoch) number; step 0 uses lr0.
    - lr0: float > 0, the initial learning rate.
    - gamma: float in (0, 1], the factor applied at every step.

    Returns:
    - lr: float, the learning rate at ``step``.
    """
    # ***** START OF YOUR CODE *****
    return float(lr0 * gamma**step)
    # ***** END OF YOUR CODE *****


def cosine_annealing(step: int, lr0: float, total_steps: int, lr_min: float = 0.0) -> float:
    """Cosine annealing from lr0 (step 0) down to lr_min (step total_steps).

    lr = lr_min + (lr0 - lr_min) * (1 + cos(pi * step / total_steps)) / 2.
    Matches torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=lr_min) after
    ``step`` calls of scheduler.step(). Past total_steps the same formula applies (the rate
    rises again, as torch's does); the course uses 0 <= step <= total_steps.

    Inputs:
    - step: int >= 0, the step (or epoch) number.
    - lr0: float > 0, the initial learning rate.
    - total_steps: int >= 1, the step at which lr reaches lr_min.
    - lr_min: float in [0, lr0], the final learning rate, default 0.

    Returns:
    - lr: float, the learning rate at ``step``.
    """
    # ***** START OF YOUR CODE *****
    return float(lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * step / total_steps)) / 2)
    # ***** END OF YOUR CODE *****


def linear_warmup(step: int, lr0: float, warmup_steps: int, start_factor: float = 0.0) -> float:
    """Linear warmup from start_factor * lr0 (step 0) to lr0 (step warmup_steps), then constant.

    lr = lr0 * (start_factor + (1 - start_factor) * min(step, warmup_steps) / warmup_steps).
    Matches torch.optim.lr_scheduler.LinearLR(start_factor=start_factor, end_factor=1.0,
    total_iters=warmup_steps) after ``step`` calls of scheduler.step() (torch requires
    start_factor > 0; the default 0 here starts the warmup from a learning rate of 0).

    Inputs:
    - step: int >= 0, the step (or epoch) number.
    - lr0: float > 0, the learning rate after the warmup.
    - warmup_steps: int >= 1, the number of steps the warmup takes.
    - start_factor: float in [0, 1], the fraction of lr0 used at step 0, default 0.

    Returns:
    - lr: float, the learning rate at ``step``.
    """
    # ***** START OF YOUR CODE *****
    progress = min(step, warmup_steps) / warmup_steps
    return float(lr0 * (start_factor + (1 - start_factor) * progress))
    # ***** END OF YOUR CODE *****
