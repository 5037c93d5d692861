"""Topic ``frameworks``: the known mistakes, as judge-side models built on the reference.

Each model takes the inputs of the check that saw the mistake (see the checks module) and
returns what the mistaken code returns there. The reference module imports torch; the models
use it through ``ref.torch`` so that this module imports nothing heavy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Misconception

Arr = np.ndarray

NO_ZERO_GRAD = "zero_grad missing (gradients accumulate)"
NO_EVAL = "model.eval() forgotten at evaluation"
NO_NO_GRAD = "torch.no_grad missing at evaluation"
FROZEN_IN_OPTIMIZER = "frozen layers still in the optimizer"
WRONG_INPUT = "custom backward uses the wrong input (dout instead of the saved x)"
NO_ALPHA = "custom backward ignores alpha (plain ReLU gradient)"
NO_SHUFFLE = "loader not shuffled"
SAME_ORDER = "a new loader every epoch (every epoch in the same order)"
BN_TRAIN = "frozen extractor left in train mode (batch-norm statistics change)"
NO_TRAIN = "net.train() forgotten (a net in eval mode trains on batch norm's running statistics)"
HEAD_NOT_TRAIN = "model.train() forgotten (the head left in eval mode)"


def torch_net(
    ref: ModuleType, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> Any:
    """The reference TwoLayerTorchNet with these CS231n-layout weights."""
    net = ref.TwoLayerTorchNet(W1.shape[0], W1.shape[1], W2.shape[1])
    ref.load_weights(net, W1, b1, W2, b2)
    return net


def _train(
    ref: ModuleType, model: Any, optimizer: Any, loader: Any, epochs: int, zero: bool
) -> Arr:
    F = ref.F
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            if zero:
                optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return np.array(losses)


# -- models of the mistakes, by function -------------------------------------------------------
def accumulated_grads(ref: ModuleType, W1: Arr, b1: Arr, W2: Arr, b2: Arr, X: Arr, y: Arr) -> tuple:
    """The second of two calls without zero_grad: every gradient doubled."""
    loss, grads = ref.forward_and_grads(torch_net(ref, W1, b1, W2, b2), X, y)
    return loss, {k: 2.0 * g for k, g in grads.items()}


def wrong_input_grad(ref: ModuleType, x: Arr, dout: Arr, alpha: float) -> Arr:
    return np.where(dout > 0, dout, alpha * dout)


def no_alpha_grad(ref: ModuleType, x: Arr, dout: Arr, alpha: float) -> Arr:
    return np.where(x > 0, dout, 0.0)


def unshuffled(
    ref: ModuleType, X: Arr, y: Arr, batch_size: int, seed: int, num_epochs: int
) -> tuple:
    n = len(y)
    sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)] * num_epochs
    return np.concatenate([X] * num_epochs), np.concatenate([y] * num_epochs), np.array(sizes)


def same_order(
    ref: ModuleType, X: Arr, y: Arr, batch_size: int, seed: int, num_epochs: int
) -> tuple:
    Xs, ys, sizes = ref.loader_batches(X, y, batch_size, seed, 1)
    return (
        np.concatenate([Xs] * num_epochs),
        np.concatenate([ys] * num_epochs),
        np.concatenate([sizes] * num_epochs),
    )


def sgd_no_zero_grad(
    ref: ModuleType,
    W1: Arr,
    b1: Arr,
    W2: Arr,
    b2: Arr,
    X: Arr,
    y: Arr,
    lr: float,
    bs: int,
    epochs: int,
    seed: int,
) -> tuple:
    net = torch_net(ref, W1, b1, W2, b2)
    optimizer = ref.torch.optim.SGD(net.parameters(), lr=lr)
    losses = _train(ref, net, optimizer, ref.make_loader(X, y, bs, seed), epochs, zero=False)
    return losses, ref.get_weights(net)


def eval_mode_training(
    ref: ModuleType,
    seed: int,
    X: Arr,
    y: Arr,
    lr: float,
    bs: int,
    epochs: int,
    data_seed: int,
    *,
    train_mode: bool = True,
    zero: bool = True,
) -> tuple:
    """(losses, state) of sgd_train on make_pretrained_cnn(seed) put in eval mode first, as the
    reference trains it (``net.train()`` first) or, ``train_mode=False``, without that call
    (``zero=False``: without zero_grad)."""
    net = ref.make_pretrained_cnn(seed)
    net.eval()
    if train_mode and zero:
        losses = ref.sgd_train(net, X, y, lr, bs, epochs, data_seed)
    else:
        if train_mode:
            net.train()
        optimizer = ref.torch.optim.SGD(net.parameters(), lr=lr)
        losses = _train(ref, net, optimizer, ref.make_loader(X, y, bs, data_seed), epochs, zero)
    return losses, ref.inspect_model(net)["state"]


def eval_forgotten(ref: ModuleType, seed: int, X: Arr) -> tuple:
    model = ref.make_pretrained_cnn(seed)
    model.train()
    with ref.torch.no_grad():
        out = model(ref.torch.tensor(X))
    return out.numpy(), False


def no_grad_forgotten(ref: ModuleType, seed: int, X: Arr) -> tuple:
    scores, _ = ref.predict(ref.make_pretrained_cnn(seed), X)
    return scores, True


def everything_in_optimizer(ref: ModuleType, seed: int, num_classes: int, lr: float) -> tuple:
    model = ref.replace_head(ref.make_pretrained_cnn(seed), num_classes)
    optimizer = ref.torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    report = ref.inspect_model(model, optimizer)
    return report["in_optimizer"], report["optimizer"]


def transfer_run(
    ref: ModuleType,
    seed: int,
    C: int,
    lr: float,
    X: Arr,
    y: Arr,
    bs: int,
    epochs: int,
    data_seed: int,
    *,
    zero: bool = True,
    bn_eval: bool = True,
) -> tuple:
    """(losses, the extractor's state after training) of the reference, or of a mistake."""
    model = ref.replace_head(ref.make_pretrained_cnn(seed), C)
    optimizer = ref.head_optimizer(model, lr)
    model.train()
    if bn_eval:
        model.features.eval()
    losses = _train(ref, model, optimizer, ref.make_loader(X, y, bs, data_seed), epochs, zero)
    state = ref.inspect_model(model)["state"]
    return losses, {k: v for k, v in state.items() if k.startswith("features.")}


MISCONCEPTIONS = (
    Misconception(
        "forward_and_grads",
        NO_ZERO_GRAD,
        "call net.zero_grad() (or optimizer.zero_grad()) before backward: .grad accumulates",
        accumulated_grads,
    ),
    Misconception(
        "custom_leaky_relu_grad",
        WRONG_INPUT,
        "backward must mask with the input saved in forward (ctx.saved_tensors), not dout",
        wrong_input_grad,
    ),
    Misconception(
        "custom_leaky_relu_grad",
        NO_ALPHA,
        "where x <= 0 the local gradient is alpha, not 0",
        no_alpha_grad,
    ),
    Misconception(
        "loader_batches",
        NO_SHUFFLE,
        "DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(seed))",
        unshuffled,
    ),
    Misconception(
        "loader_batches",
        SAME_ORDER,
        "make ONE loader and iterate it once per epoch: its generator moves on",
        same_order,
    ),
    Misconception(
        "sgd_train",
        NO_ZERO_GRAD,
        "call optimizer.zero_grad() at the start of every step: .grad accumulates",
        sgd_no_zero_grad,
    ),
    Misconception(  # the same mistake on the inputs of the eval-mode case
        "sgd_train",
        NO_ZERO_GRAD,
        "call optimizer.zero_grad() at the start of every step: .grad accumulates",
        lambda ref, *a: eval_mode_training(ref, *a, zero=False),
    ),
    Misconception(
        "sgd_train",
        NO_TRAIN,
        "call net.train() before the first step: a net left in eval mode (by predict, say) "
        "normalises with batch norm's running statistics and never updates them",
        lambda ref, *a: eval_mode_training(ref, *a, train_mode=False),
    ),
    Misconception(
        "predict",
        NO_EVAL,
        "call model.eval() before evaluating: batch norm and dropout behave differently",
        eval_forgotten,
    ),
    Misconception(
        "predict",
        NO_NO_GRAD,
        "evaluate inside `with torch.no_grad():` so that no graph is recorded",
        no_grad_forgotten,
    ),
    Misconception(
        "head_optimizer",
        FROZEN_IN_OPTIMIZER,
        "give the optimizer model.head.parameters() only",
        everything_in_optimizer,
        compare=("in_optimizer",),
    ),
    Misconception(
        "train_head",
        NO_ZERO_GRAD,
        "call optimizer.zero_grad() at the start of every step: .grad accumulates",
        lambda ref, *a: transfer_run(ref, *a, zero=False),
    ),
    Misconception(
        "train_head",
        BN_TRAIN,
        "after model.train(), put model.features back in eval mode",
        lambda ref, *a: transfer_run(ref, *a, bn_eval=False),
    ),
    # seen by the check that reads the modules' modes after training, not in any output (the
    # head is one Linear layer, the same in both modes): its model is the reference run
    Misconception(
        "train_head",
        HEAD_NOT_TRAIN,
        "call model.train() first, then model.features.eval(): a model that comes in eval "
        "mode (after predict) keeps its head in eval mode otherwise, and a head with dropout "
        "or batch norm would train wrongly",
        transfer_run,
    ),
)
