"""Deep-learning frameworks: the same models in PyTorch (CS231n: PyTorch.ipynb).

Conventions shared by every function in this module:

- Everything runs on the CPU in float64 (``dtype=torch.float64`` on every layer and tensor), so
  that results equal the numpy reference to 1e-7.
- Only plain numpy data leaves these functions: arrays (``tensor.detach().numpy()``), Python
  floats and bools, tuples and dicts of them. A ``torch.Tensor`` returned to the grader cannot
  be read and is graded as a bad output. Models, optimizers and loaders are returned only where
  a docstring says so; the grader keeps them in your process and passes them back to you.
- Weight layouts: CS231n stores a fully connected layer as W of shape (D, H) with
  ``out = x @ W + b``; ``torch.nn.Linear(D, H).weight`` has shape (H, D) with
  ``out = x @ weight.T + bias``. ``load_weights`` and ``get_weights`` convert between them,
  and gradients are returned in the CS231n layout (the shape of W).
- The loss is the mean softmax cross-entropy (``torch.nn.functional.cross_entropy``), no
  regularisation: it equals ``TwoLayerNet(reg=0).loss`` of the backprop topic.
- Shuffling draws only from a generator made of the seed,
  ``torch.Generator().manual_seed(seed)``, never from torch's global random state: the same
  seed gives the same batches as the reference.
- One training step is, in this order: ``optimizer.zero_grad()``, forward, loss,
  ``loss.backward()``, ``optimizer.step()``; the loss recorded for a step is the one computed
  before its update (``loss.item()``).
- Evaluation puts the model in eval mode (``model.eval()``: batch norm uses its running
  statistics, dropout is off) and runs under ``torch.no_grad()`` (nothing is recorded for
  backward); the model is left in eval mode.
- The feature extractor and the data set of the transfer-learning part are built by given code
  from a seed (fixed weights, nothing downloaded): 8x8 one-channel images of 4 classes, each a
  bright blob in one quadrant plus Gaussian noise (sklearn is not used).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (the stub keeps it for your code)
from torch import nn
from torch.utils.data import DataLoader, Dataset

DTYPE = torch.float64


class TwoLayerTorchNet(nn.Module):
    """affine - relu - affine, as ``TwoLayerNet`` of the backprop topic, in PyTorch.

    Attributes: ``fc1 = nn.Linear(input_dim, hidden_dim)`` and
    ``fc2 = nn.Linear(hidden_dim, num_classes)``, both float64 (``dtype=torch.float64``), with
    torch's default initialisation (the grader loads its own weights with ``load_weights``).
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int) -> None:
        """Inputs:
        - input_dim: int, D; hidden_dim: int, H; num_classes: int, C.
        Call ``super().__init__()`` first (nn.Module must set itself up before layers are added).
        """
        # ***** START OF YOUR CODE *****
        raise NotImplementedError("TwoLayerTorchNet.__init__: your code here (see the docstring)")
        # ***** END OF YOUR CODE *****

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float64 tensor (N, d_1, ..., d_k), flattened to (N, D). Returns scores (N, C)."""
        # ***** START OF YOUR CODE *****
        raise NotImplementedError("TwoLayerTorchNet.forward: your code here (see the docstring)")
        # ***** END OF YOUR CODE *****


def load_weights(
    net: TwoLayerTorchNet, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> None:
    """Copy CS231n-layout numpy weights into ``net`` (in place, under ``torch.no_grad()``).

    Inputs:
    - net: a TwoLayerTorchNet(D, H, C).
    - W1: float64 array (D, H); b1: (H,); W2: (H, C); b2: (C,). fc1.weight becomes W1.T
      (shape (H, D)), fc1.bias b1, fc2.weight W2.T, fc2.bias b2.

    Returns None. The arrays are not modified (copy them, do not share their memory).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("load_weights: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def get_weights(net: TwoLayerTorchNet) -> dict[str, np.ndarray]:
    """(given code) The weights of ``net`` as CS231n-layout numpy arrays (copies):
    ``{"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}``."""
    return {
        "W1": net.fc1.weight.detach().numpy().T.copy(),
        "b1": net.fc1.bias.detach().numpy().copy(),
        "W2": net.fc2.weight.detach().numpy().T.copy(),
        "b2": net.fc2.bias.detach().numpy().copy(),
    }


def forward_and_grads(
    net: TwoLayerTorchNet, X: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax loss of ``net`` on (X, y) and its gradients, by autograd.

    Inputs:
    - net: a TwoLayerTorchNet(D, H, C).
    - X: float64 array (N, d_1, ..., d_k) with d_1 * ... * d_k = D.
    - y: int array (N,), labels 0 <= y[i] < C.

    Returns a tuple of:
    - loss: Python float, mean softmax cross-entropy.
    - grads: dict of numpy float64 arrays in the CS231n layout, ``{"W1": (D, H), "b1": (H,),
      "W2": (H, C), "b2": (C,)}`` (fc1.weight.grad transposed, ...).
    Gradients are zeroed before ``backward`` (``net.zero_grad()``), so calling this twice gives
    the same result. The parameters are not changed.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("forward_and_grads: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


class LeakyReLUFunction(torch.autograd.Function):
    """Leaky ReLU as a custom autograd Function: out = x where x > 0, alpha * x elsewhere.

    ``LeakyReLUFunction.apply(x, alpha)`` with x a float64 tensor and alpha a Python float.
    ``forward`` saves x (``ctx.save_for_backward``) and alpha; ``backward(ctx, dout)`` returns
    one gradient per input of forward: (dx, None), None for alpha. It passes
    ``torch.autograd.gradcheck`` in float64 away from x = 0.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, alpha: float) -> torch.Tensor:
        """x: float64 tensor of any shape; alpha: float. Returns out, a tensor of x's shape."""
        # ***** START OF YOUR CODE *****
        raise NotImplementedError("LeakyReLUFunction.forward: your code here (see the docstring)")
        # ***** END OF YOUR CODE *****

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> tuple[torch.Tensor, None]:
        """dout: tensor of out's shape. Returns (dx, None): dx of x's shape, None for alpha."""
        # ***** START OF YOUR CODE *****
        raise NotImplementedError("LeakyReLUFunction.backward: your code here (see the docstring)")
        # ***** END OF YOUR CODE *****


def custom_leaky_relu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    """``LeakyReLUFunction.apply`` on ``x``, as numpy.

    Inputs:
    - x: float64 array of any shape (not modified).
    - alpha: float, the slope for x <= 0.

    Returns out: float64 array of x's shape.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("custom_leaky_relu_forward: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def custom_leaky_relu_grad(x: np.ndarray, dout: np.ndarray, alpha: float) -> np.ndarray:
    """The gradient your ``LeakyReLUFunction.backward`` gives, through autograd.

    Make a float64 tensor of x with ``requires_grad=True``, apply ``LeakyReLUFunction``, call
    ``out.backward(dout)`` and return x's ``.grad``.

    Inputs:
    - x: float64 array of any shape; dout: float64 array of x's shape (upstream gradient);
      alpha: float. Neither array is modified.

    Returns dx: float64 array of x's shape, d sum(out * dout) / dx.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("custom_leaky_relu_grad: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


class ArrayDataset(Dataset):
    """A ``Dataset`` over in-memory arrays: item i is ``(X[i], y[i])`` as tensors (float64 and
    int64). ``len`` is N."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        """X: float64 array (N, ...); y: int array (N,). Store them as tensors (copies):
        ``self.X`` float64 and ``self.y`` int64, which ``__len__`` and ``__getitem__`` read."""
        # ***** START OF YOUR CODE *****
        raise NotImplementedError("ArrayDataset.__init__: your code here (see the docstring)")
        # ***** END OF YOUR CODE *****

    def __len__(self) -> int:
        """(given code) The number of examples, N."""
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(given code) Example i: (X[i], a float64 tensor; y[i], an int64 scalar tensor)."""
        return self.X[i], self.y[i]


def make_loader(X: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> DataLoader:
    """A shuffling ``DataLoader`` over ``ArrayDataset(X, y)``.

    ``DataLoader(dataset, batch_size=batch_size, shuffle=True,
    generator=torch.Generator().manual_seed(seed))``: the last batch may be smaller (no
    drop_last), no worker processes. Iterating it again draws a new order from the same
    generator, so epochs differ and the whole sequence is fixed by the seed.

    Returns the DataLoader (kept in your process by the grader).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("make_loader: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def loader_batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, seed: int, num_epochs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every batch of ``num_epochs`` epochs of ONE ``make_loader(X, y, batch_size, seed)``.

    Inputs:
    - X: float64 array (N, ...); y: int array (N,); batch_size, seed, num_epochs: ints.

    Returns a tuple of numpy arrays:
    - X_seen: float64 (num_epochs * N, ...), the batches' examples concatenated in order.
    - y_seen: int64 (num_epochs * N,), their labels.
    - sizes: int64 (number of batches,), the size of each batch.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("loader_batches: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def sgd_train(
    net: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    learning_rate: float,
    batch_size: int,
    num_epochs: int,
    seed: int,
) -> np.ndarray:
    """Train ``net`` in place with ``torch.optim.SGD(net.parameters(), lr=learning_rate)``
    (no momentum, no weight decay) on the batches of ``make_loader(X, y, batch_size, seed)``.

    Put ``net`` in train mode first (``net.train()``): it may come in eval mode (``predict``
    leaves it there), and batch norm or dropout layers train only in train mode. Each step:
    zero_grad, forward, ``F.cross_entropy`` (mean), backward, step.

    Returns losses: float64 array (number of steps,), the loss of each step before its update.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("sgd_train: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def predict(model: nn.Module, X: np.ndarray) -> tuple[np.ndarray, bool]:
    """Evaluate ``model`` on X: ``model.eval()``, then the forward pass under
    ``torch.no_grad()``.

    Inputs:
    - model: an nn.Module taking a float64 tensor of X's shape.
    - X: float64 array (N, ...).

    Returns a tuple of:
    - scores: float64 array, the model's output as numpy.
    - tracked: bool, ``scores_tensor.requires_grad`` (False under ``torch.no_grad()``: no graph
      was recorded).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("predict: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


# -- transfer learning -------------------------------------------------------------------------
FEATURES = 8 * 4 * 4  # channels x pooled height x pooled width of SmallCNN's features


class SmallCNN(nn.Module):
    """(given code) conv3x3(1->8, padding 1) - batchnorm - relu - maxpool 2 - flatten, then a
    head ``nn.Linear(128, 10)``. ``features`` is the extractor, ``head`` the classifier."""

    def __init__(self) -> None:
        """(given code) Layers with torch's default initialisation (see make_pretrained_cnn)."""
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, dtype=DTYPE),
            nn.BatchNorm2d(8, dtype=DTYPE),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head: nn.Module = nn.Linear(FEATURES, 10, dtype=DTYPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(given code) x: float64 tensor (N, 1, 8, 8). Returns the head's scores."""
        return self.head(self.features(x))


def make_pretrained_cnn(seed: int) -> SmallCNN:
    """(given code) A SmallCNN with fixed weights and batch-norm statistics drawn from a
    generator of ``seed`` (a stand-in for a pretrained network: nothing is downloaded)."""
    gen = torch.Generator().manual_seed(seed)
    model = SmallCNN()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=DTYPE) * 0.5)
        bn = model.features[1]
        bn.running_mean.copy_(torch.randn(8, generator=gen, dtype=DTYPE) * 0.3)
        bn.running_var.copy_(torch.rand(8, generator=gen, dtype=DTYPE) + 0.5)
    return model


def make_blobs(num_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(given code) A small learnable image data set: X float64 (4 * num_per_class, 1, 8, 8),
    y int64; class k has a bright 3x3 blob in quadrant k (jittered by one pixel) plus
    N(0, 0.3^2) noise. Examples are in a seeded random order."""
    rng = np.random.default_rng(seed)
    n = 4 * num_per_class
    y = rng.permutation(np.repeat(np.arange(4), num_per_class))
    X = rng.normal(0.0, 0.3, (n, 1, 8, 8))
    for i, k in enumerate(y):
        r = 4 * (k // 2) + int(rng.integers(0, 2))
        c = 4 * (k % 2) + int(rng.integers(0, 2))
        X[i, 0, r : r + 3, c : c + 3] += 1.5
    return X, y.astype(np.int64)


def inspect_model(model: nn.Module, optimizer: Any = None) -> dict[str, dict[str, Any]]:
    """(given code) What the grader reads of a model: ``{"state": {name: array}`` (its
    state_dict: parameters and buffers), ``"requires_grad": {name: bool}`` and
    ``"in_optimizer": {name: bool}`` (whether the optimizer holds that parameter; all False
    without one) and ``"optimizer": {"lr", "momentum", "weight_decay"}`` (floats, of its first
    parameter group; zeros without one)."""
    held, settings = set(), {"lr": 0.0, "momentum": 0.0, "weight_decay": 0.0}
    if optimizer is not None:
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        group = optimizer.param_groups[0]
        settings = {k: float(group.get(k, 0.0)) for k in settings}
    params = dict(model.named_parameters())
    return {
        "state": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
        "requires_grad": {k: bool(p.requires_grad) for k, p in params.items()},
        "in_optimizer": {k: id(p) in held for k, p in params.items()},
        "optimizer": settings,
    }


def replace_head(model: SmallCNN, num_classes: int) -> SmallCNN:
    """Freeze the feature extractor and give the model a new head.

    Every parameter of ``model.features`` gets ``requires_grad = False``; ``model.head``
    becomes ``nn.Linear(128, num_classes, dtype=torch.float64)`` with weight and bias set to
    zeros (``nn.init.zeros_``: reproducible, and fine for a linear softmax head), trainable.

    Returns the same model object, changed in place.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("replace_head: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def head_optimizer(model: SmallCNN, learning_rate: float) -> torch.optim.Optimizer:
    """``torch.optim.SGD`` over the head's parameters ONLY (``model.head.parameters()``),
    ``lr=learning_rate``, ``momentum=0.9``. Returns the optimizer (kept in your process)."""
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("head_optimizer: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def train_head(
    model: SmallCNN,
    optimizer: torch.optim.Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    num_epochs: int,
    seed: int,
) -> np.ndarray:
    """Train the head of a ``replace_head`` model with ``optimizer``.

    The batches are those of ``make_loader(X, y, batch_size, seed)``; each step is zero_grad,
    forward, ``F.cross_entropy``, backward, step. The head is in train mode and the frozen
    extractor in eval mode (``model.train()`` then ``model.features.eval()``), so that its
    batch-norm statistics stay as given: training changes nothing of ``model.features``.

    Returns losses: float64 array (number of steps,), each step's loss before its update.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("train_head: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****
