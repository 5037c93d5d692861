"""Topic ``frameworks``: the property bodies that drive the student's torch objects.

Models, loaders and optimizers stay in the worker behind handles; the judge builds them with
the student's code (``Call(..., keep="all")``), passes the handles back, and reads only numpy
data: ``get_weights`` and ``inspect_model`` (given code) report a model's state. Inputs come
from the check's rng; seeds passed to torch are drawn from it too.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.outputs import conform, conform_outputs
from grader.judge import numgrad
from grader.judge.compare import gradient_error
from grader.judge.expected import kept
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle
from grader.topics.frameworks.mistakes import (
    HEAD_NOT_TRAIN,
    MISCONCEPTIONS,
    eval_mode_training,
    torch_net,
    transfer_run,
)

Body = Callable[[Context], Verdict]
NAMES = ("W1", "b1", "W2", "b2")


# -- inputs ------------------------------------------------------------------------------------
def _reference_grads(ref: Any) -> Callable[..., Any]:
    """(loss, grads) of the reference torch net with these weights (W1, b1, W2, b2, X, y...)."""
    return lambda *args: ref.forward_and_grads(torch_net(ref, *args[:4]), *args[4:])


def _replaced(ref: Any) -> Callable[[int, int], dict]:
    """inspect_model of the reference's pretrained CNN with a fresh head of C classes."""
    return lambda seed, C: ref.inspect_model(ref.replace_head(ref.make_pretrained_cnn(seed), C))


def net_case(N: int, D: int, H: int, C: int, image: bool = False) -> Make:
    """(W1, b1, W2, b2, X, y): hidden pre-activations kept away from the ReLU kink."""

    def make(rng: np.random.Generator) -> tuple:
        for _ in range(1000):
            W1, b1 = rng.standard_normal((D, H)) * 0.5, rng.standard_normal(H) * 0.1
            W2, b2 = rng.standard_normal((H, C)) * 0.5, rng.standard_normal(C) * 0.1
            X = rng.standard_normal((N, D))
            if np.min(np.abs(X @ W1 + b1)) > 1e-3:
                y = rng.integers(0, C, N)
                return W1, b1, W2, b2, (X.reshape(N, 1, D) if image else X), y
        raise RuntimeError("could not draw network inputs away from the ReLU kink")

    return make


def _handle(ctx: Context, call: Call, what: str) -> Handle:
    value = ctx.student.call(call).value
    if not isinstance(value, Handle):
        raise StudentFault("bad_output", f"{what} did not return an object")
    return value


def _loaded_net(ctx: Context, W1, b1, W2, b2) -> Handle:
    D, H = W1.shape
    net = _handle(
        ctx, Call("TwoLayerTorchNet", (D, H, W2.shape[1]), keep="all"), "TwoLayerTorchNet"
    )
    ctx.student.call(Call("load_weights", (net, W1, b1, W2, b2)))
    return net


def _weights(ctx: Context, net: Handle, expected: dict) -> dict:
    got = ctx.student.call(Call("get_weights", (net,))).value
    conform(got, expected, "get_weights(net)")
    return got


# -- the net -----------------------------------------------------------------------------------
def net_layers(ctx: Context) -> Verdict:
    D, H, C = 7, 5, 3
    net = _handle(ctx, Call("TwoLayerTorchNet", (D, H, C), keep="all"), "TwoLayerTorchNet")
    shapes = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    _weights(ctx, net, {k: np.zeros(s) for k, s in shapes.items()})
    return PASS


def load_body(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        net = _loaded_net(ctx, *args[:4])
        expected = dict(zip(NAMES, args[:4]))
        got = _weights(ctx, net, expected)
        seen = Observation(
            "load_weights",
            "get_weights(net) after load_weights(net, W1, b1, W2, b2)",
            args[:4],
            (got,),
            ("weights",),
            (expected,),
        )
        return judge_outputs(ctx, seen, 0.0, "the weights loaded")

    return body


def grads_body(make: Make, twice: bool = False) -> Body:
    """The student's (loss, grads) against the reference's; ``twice``: of a second call."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        net = _loaded_net(ctx, *args[:4])
        calls = [Call("forward_and_grads", (net, *args[4:]))] * (2 if twice else 1)
        reply = ctx.student.batch(calls)[-1]
        expected = kept(ctx.ref, "forward_and_grads", _reference_grads(ctx.ref), *args)
        names = ("loss", "grads")
        got = conform_outputs(reply.value, expected, names, "forward_and_grads")
        N = len(args[5])
        text = f"forward_and_grads(net, X {args[4].shape}, y ({N},))" + (
            ", called twice on the same net" if twice else ""
        )
        seen = Observation("forward_and_grads", text, args, got, names, expected)
        return judge_outputs(ctx, seen, 1e-7, "the numpy TwoLayerNet's")

    return body


def grads_numeric(make: Make) -> Body:
    """grads against the numeric gradient of the student's own loss (directional, 3 ways)."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        net = _loaded_net(ctx, *args[:4])
        got = ctx.student.call(Call("forward_and_grads", (net, *args[4:]))).value
        expected = kept(ctx.ref, "forward_and_grads", _reference_grads(ctx.ref), *args)
        got = conform_outputs(got, expected, ("loss", "grads"), "forward_and_grads")
        for i, key in enumerate(NAMES):

            def evaluate(points: list[np.ndarray], i: int = i) -> list[float]:
                calls = []
                for p in points:
                    weights = args[:i] + (p,) + args[i + 1 : 4]
                    calls += [
                        Call("load_weights", (net, *weights)),
                        Call("forward_and_grads", (net, *args[4:])),
                    ]
                replies = ctx.student.batch(calls)[1::2]
                return [float(r.value[0]) for r in replies]

            dirs = numgrad.random_directions(ctx.rng, args[i].shape, 3)
            numeric = numgrad.directional(evaluate, args[i], dirs, 1e-5)
            along = np.tensordot(dirs, got[1][key], axes=args[i].ndim)
            cmp = gradient_error(
                f"grads[{key!r}] along 3 directions",
                along,
                numeric.values,
                1e-6,
                numeric.roundoff,
            )
            if not cmp.ok:
                return Verdict(
                    Outcome.WRONG,
                    f"forward_and_grads: grads[{key!r}] differs from the numeric gradient of "
                    f"your own loss.\n  {cmp.describe()}\n  check the layout (CS231n W is "
                    "(D, H), Linear.weight is (H, D)) and that backward ran on this loss.",
                )
        return PASS

    return body


# -- the custom Function -----------------------------------------------------------------------
def leaky_numeric(shape: tuple[int, ...], alpha: float) -> Body:
    """dx against the numeric gradient of the student's own custom_leaky_relu_forward."""

    def body(ctx: Context) -> Verdict:
        x = ctx.rng.uniform(0.2, 2.0, shape) * ctx.rng.choice([-1.0, 1.0], shape)
        dout = ctx.rng.standard_normal(shape)
        dx = ctx.student.call(Call("custom_leaky_relu_grad", (x, dout, alpha))).value
        conform(dx, x, "custom_leaky_relu_grad result")

        def evaluate(points: list[np.ndarray]) -> list[float]:
            replies = ctx.student.batch(
                [Call("custom_leaky_relu_forward", (p, alpha)) for p in points]
            )
            return [float(np.sum(np.asarray(r.value) * dout)) for r in replies]

        numeric = numgrad.elementwise(evaluate, x, 1e-5)
        cmp = gradient_error("dx", dx, numeric.values, 1e-6, numeric.roundoff)
        if cmp.ok:
            return PASS
        seen = Observation(
            "custom_leaky_relu_grad",
            f"custom_leaky_relu_grad(x {shape}, dout, alpha={alpha})",
            (x, dout, alpha),
            (dx,),
            ("dx",),
            (ctx.ref.custom_leaky_relu_grad(x, dout, alpha),),
        )
        verdict = judge_outputs(ctx, seen, 1e-7, "the reference")
        return Verdict(
            Outcome.WRONG,
            f"custom_leaky_relu_grad: dx differs from the numeric gradient of your own "
            f"forward.\n  {cmp.describe()}"
            + (
                f"\n  looks like a known mistake: {verdict.misconception}"
                if verdict.misconception
                else ""
            ),
            misconception=verdict.misconception,
        )

    return body


# -- loaders and training ----------------------------------------------------------------------
def loader_epochs(ctx: Context) -> Verdict:
    """Each epoch of loader_batches visits every example exactly once."""
    N, epochs = 11, 3
    X = np.arange(N, dtype=np.float64)[:, None] * np.ones((1, 2))
    y = np.arange(N)
    seed = int(ctx.rng.integers(2**31))
    got = ctx.student.call(Call("loader_batches", (X, y, 4, seed, epochs))).value
    conform(got, ctx.ref.loader_batches(X, y, 4, seed, epochs), "loader_batches result")
    for e in range(epochs):
        if sorted(got[1][e * N : (e + 1) * N].tolist()) != list(range(N)):
            return Verdict(
                Outcome.WRONG,
                f"loader_batches: epoch {e + 1} does not visit each of the {N} examples once",
            )
    return PASS


def sgd_body(make: Make, lr: float, batch_size: int, epochs: int) -> Body:
    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        seed = int(ctx.rng.integers(2**31))
        rest = (lr, batch_size, epochs, seed)
        net = _loaded_net(ctx, *args[:4])
        losses = ctx.student.call(Call("sgd_train", (net, *args[4:], *rest))).value

        def train(*inputs: Any) -> tuple:
            ref_net = torch_net(ctx.ref, *inputs[:4])
            return ctx.ref.sgd_train(ref_net, *inputs[4:]), ctx.ref.get_weights(ref_net)

        expected = kept(ctx.ref, "sgd_train", train, *args, *rest)
        got = (losses, _weights(ctx, net, expected[1]))
        names = ("losses", "weights after training")
        got = conform_outputs(got, expected, names, "sgd_train")
        text = (
            f"sgd_train(net, X {args[4].shape}, y, learning_rate={lr}, batch_size={batch_size}, "
            f"num_epochs={epochs}, seed={seed})"
        )
        seen = Observation("sgd_train", text, (*args, *rest), got, names, expected)
        return judge_outputs(ctx, seen, 1e-7, "the reference training")

    return body


def _in_eval_mode(ctx: Context, model: Handle) -> None:
    """``model.eval()`` in the worker (torch's own method, no student code)."""
    ctx.student.call(Call("eval", (), target=model, keep="all"))


def sgd_eval_mode_body(N: int, lr: float, batch_size: int, epochs: int) -> Body:
    """sgd_train on make_pretrained_cnn put in eval mode first (a batch-norm net, as predict
    leaves it): losses and the whole state after training (running statistics included)."""

    def body(ctx: Context) -> Verdict:
        seed, data_seed = (int(s) for s in ctx.rng.integers(2**31, size=2))
        X, y = ctx.rng.standard_normal((N, 1, 8, 8)), ctx.rng.integers(0, 10, N)
        net = _handle(ctx, Call("make_pretrained_cnn", (seed,), keep="all"), "make_pretrained_cnn")
        _in_eval_mode(ctx, net)
        rest = (lr, batch_size, epochs, data_seed)
        losses = ctx.student.call(Call("sgd_train", (net, X, y, *rest))).value
        inputs = (seed, X, y, *rest)
        expected = kept(
            ctx.ref, "sgd_eval_mode", lambda *a: eval_mode_training(ctx.ref, *a), *inputs
        )
        state = _inspect(ctx, net, None, {"state": expected[1]})["state"]
        names = ("losses", "state after training")
        got = conform_outputs((losses, state), expected, names, "sgd_train")
        text = (
            f"sgd_train(make_pretrained_cnn({seed}) after net.eval(), X {X.shape}, y, "
            f"learning_rate={lr}, batch_size={batch_size}, num_epochs={epochs}, seed={data_seed})"
        )
        seen = Observation("sgd_train", text, inputs, got, names, expected)
        return judge_outputs(ctx, seen, 1e-7, "the reference training (net.train() first)")

    return body


def predict_body(N: int) -> Body:
    def body(ctx: Context) -> Verdict:
        seed = int(ctx.rng.integers(2**31))
        X = ctx.rng.standard_normal((N, 1, 8, 8))
        model = _handle(
            ctx, Call("make_pretrained_cnn", (seed,), keep="all"), "make_pretrained_cnn"
        )
        reply = ctx.student.call(Call("predict", (model, X)))
        expected = kept(
            ctx.ref,
            "predict",
            lambda s, x: ctx.ref.predict(ctx.ref.make_pretrained_cnn(s), x),
            seed,
            X,
        )
        names = ("scores", "tracked")
        got = conform_outputs(reply.value, expected, names, "predict")
        text = f"predict(make_pretrained_cnn({seed}), X {X.shape})"
        seen = Observation("predict", text, (seed, X), got, names, expected)
        return judge_outputs(ctx, seen, 1e-7, "the reference")

    return body


# -- transfer learning -------------------------------------------------------------------------
def _transfer_model(ctx: Context, seed: int, C: int) -> tuple[Handle, dict]:
    cnn = _handle(ctx, Call("make_pretrained_cnn", (seed,), keep="all"), "make_pretrained_cnn")
    before = ctx.student.call(Call("inspect_model", (cnn,))).value
    model = _handle(ctx, Call("replace_head", (cnn, C), keep="all"), "replace_head")
    return model, before


def _inspect(ctx: Context, model: Handle, optimizer: Any, expected: dict) -> dict:
    got = ctx.student.call(Call("inspect_model", (model, optimizer))).value
    conform(got, expected, "inspect_model(model)")
    return got


def replace_body(C: int) -> Body:
    def body(ctx: Context) -> Verdict:
        seed = int(ctx.rng.integers(2**31))
        model, before = _transfer_model(ctx, seed, C)
        expected = kept(ctx.ref, "replaced", _replaced(ctx.ref), seed, C)
        got = _inspect(ctx, model, None, expected)
        frozen = {k: v for k, v in before["state"].items() if k.startswith("features.")}
        names = ("requires_grad", "head and extractor state")
        seen = Observation(
            "replace_head",
            f"replace_head(make_pretrained_cnn({seed}), {C})",
            (seed, C),
            (got["requires_grad"], got["state"]),
            names,
            (
                expected["requires_grad"],
                {**frozen, **{k: v for k, v in expected["state"].items() if k.startswith("head.")}},
            ),
        )
        return judge_outputs(ctx, seen, 0.0, "a frozen extractor with a zero head")

    return body


def optimizer_body(C: int, lr: float) -> Body:
    def body(ctx: Context) -> Verdict:
        seed = int(ctx.rng.integers(2**31))
        model, _ = _transfer_model(ctx, seed, C)
        opt = _handle(ctx, Call("head_optimizer", (model, lr), keep="all"), "head_optimizer")

        def inspected(seed: int, C: int, lr: float) -> dict:
            ref_model = ctx.ref.replace_head(ctx.ref.make_pretrained_cnn(seed), C)
            return ctx.ref.inspect_model(ref_model, ctx.ref.head_optimizer(ref_model, lr))

        expected = kept(ctx.ref, "head_optimizer", inspected, seed, C, lr)
        got = _inspect(ctx, model, opt, expected)
        seen = Observation(
            "head_optimizer",
            f"head_optimizer(model, {lr}): the parameters it holds",
            (seed, C, lr),
            (got["in_optimizer"], got["optimizer"]),
            ("in_optimizer", "settings"),
            (expected["in_optimizer"], expected["optimizer"]),
        )
        return judge_outputs(ctx, seen, 0.0, "the head's parameters only")

    return body


def train_modes_body(per_class: int, batch_size: int, epochs: int) -> Body:
    """train_head on a model that comes in eval mode: after it, the model and its head are in
    train mode and the extractor in eval mode (the docstring), and the losses are the
    reference's."""

    def body(ctx: Context) -> Verdict:
        ref, C, lr = ctx.ref, 4, 0.05
        seed, data_seed, split = (int(s) for s in ctx.rng.integers(2**31, size=3))
        X, y = ref.make_blobs(per_class, split)
        model, _ = _transfer_model(ctx, seed, C)
        opt = _handle(ctx, Call("head_optimizer", (model, lr), keep="all"), "head_optimizer")
        _in_eval_mode(ctx, model)
        losses = ctx.student.call(
            Call("train_head", (model, opt, X, y, batch_size, epochs, data_seed))
        ).value
        inputs = (seed, C, lr, X, y, batch_size, epochs, data_seed)
        expected = kept(ref, "transfer_run", lambda *a: transfer_run(ref, *a), *inputs)
        got = conform_outputs(losses, expected[:1], ("losses",), "train_head")
        text = (
            f"train_head(model after model.eval(), optimizer, X {X.shape}, y, "
            f"batch_size={batch_size}, num_epochs={epochs}, seed={data_seed})"
        )
        seen = Observation("train_head", text, inputs, got, ("losses",), expected[:1])
        verdict = judge_outputs(ctx, seen, 1e-7, "the reference training")
        if not verdict.passed:
            return verdict
        modes = {"model": bool(ctx.student.getattr(model, "training"))}
        for part in ("features", "head"):
            module = _handle(
                ctx, Call("get_submodule", (part,), target=model, keep="all"), f"model.{part}"
            )
            modes[f"model.{part}"] = bool(ctx.student.getattr(module, "training"))
        want = {"model": True, "model.features": False, "model.head": True}
        if modes == want:
            return PASS
        wrong = ", ".join(f"{k}.training is {v}" for k, v in modes.items() if v != want[k])
        if not modes["model.features"] and not (modes["model"] and modes["model.head"]):
            hint = next(m.hint for m in MISCONCEPTIONS if m.name == HEAD_NOT_TRAIN)
            return Verdict(
                Outcome.WRONG,
                f"{text}: after training {wrong}; the docstring: the head in train mode, the "
                f"extractor in eval mode.\n  looks like a known mistake: {HEAD_NOT_TRAIN}. "
                f"Hint: {hint}",
                misconception=HEAD_NOT_TRAIN,
            )
        return Verdict(
            Outcome.WRONG,
            f"{text}: after training {wrong}; the docstring: model.train() then "
            "model.features.eval() (the head in train mode, the extractor in eval mode)",
        )

    return body


def _reference_accuracy(ref: ModuleType, inputs: tuple, split: int) -> float:
    """Validation accuracy of the reference's own head training on the same data."""
    seed, C, lr, X, y, batch_size, epochs, data_seed = inputs
    X_val, y_val = ref.make_blobs(25, split + 1)
    model = ref.replace_head(ref.make_pretrained_cnn(seed), C)
    optimizer = ref.head_optimizer(model, lr)
    ref.train_head(model, optimizer, X, y, batch_size, epochs, data_seed)
    scores, _ = ref.predict(model, X_val)
    return float(np.mean(np.argmax(scores, axis=1) == y_val))


def train_body(per_class: int, batch_size: int, epochs: int, min_accuracy: float) -> Body:
    """Losses and the untouched extractor against the reference; then validation accuracy of
    the trained model (its state loaded judge-side into the reference SmallCNN)."""

    def body(ctx: Context) -> Verdict:
        ref, C, lr = ctx.ref, 4, 0.05
        seed, data_seed, split = (int(s) for s in ctx.rng.integers(2**31, size=3))
        X, y = ref.make_blobs(per_class, split)
        model, _ = _transfer_model(ctx, seed, C)
        opt = _handle(ctx, Call("head_optimizer", (model, lr), keep="all"), "head_optimizer")
        inputs = (seed, C, lr, X, y, batch_size, epochs, data_seed)
        losses = ctx.student.call(
            Call("train_head", (model, opt, X, y, batch_size, epochs, data_seed))
        ).value
        expected = kept(ref, "transfer_run", lambda *a: transfer_run(ref, *a), *inputs)
        state = _inspect(ctx, model, None, kept(ref, "replaced", _replaced(ref), seed, C))["state"]
        names = ("losses", "extractor state after training")
        got = conform_outputs(
            (losses, {k: v for k, v in state.items() if k.startswith("features.")}),
            expected,
            names,
            "train_head",
        )
        text = (
            f"train_head(model, optimizer, X {X.shape}, y, batch_size={batch_size}, "
            f"num_epochs={epochs}, seed={data_seed})"
        )
        seen = Observation("train_head", text, inputs, got, names, expected)
        verdict = judge_outputs(ctx, seen, 1e-7, "the reference training")
        if not verdict.passed:
            return verdict

        def validation_accuracy(state: dict, C: int, split: int) -> float:
            judge_model = ref.replace_head(ref.SmallCNN(), C)
            judge_model.load_state_dict({k: ref.torch.tensor(v) for k, v in state.items()})
            X_val, y_val = ref.make_blobs(25, split + 1)
            scores, _ = ref.predict(judge_model, X_val)
            return float(np.mean(np.argmax(scores, axis=1) == y_val))

        # kept by the bytes of the student's trained state: a regrade of the same code hits
        accuracy = kept(ref, "validation_accuracy", validation_accuracy, state, C, split)
        # at least min_accuracy, or what the reference's own training reaches on these data
        # when that is less (some draws of the blobs are harder: 0.78 for one course secret)
        reached = kept(
            ref, "reference_accuracy", lambda *a: _reference_accuracy(ref, *a), inputs, split
        )
        wanted = min(min_accuracy, reached)
        if accuracy < wanted:
            return Verdict(
                Outcome.WRONG,
                f"train_head: validation accuracy {accuracy:.2f} after training, "
                f"at least {wanted:.2f} expected",
            )
        return PASS

    return body
