"""The training loop every chapter uses.

One step is: forward pass, per-task losses, the weighting method's backward (:mod:`mtl_ref.weighting`), the
gradient of the model's own penalty if it has one (soft parameter sharing), optimizer step. The loop keeps everything on the model's device and does not synchronise with the host inside an epoch:
the running losses are summed on the device and read once per epoch, where they are also checked for NaN/inf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from .data.tensors import MultiTaskData
from .device import amp_dtype, autocast
from .files import write_json_atomic
from .models.base import MultiTaskModel
from .progress import progress_bar
from .selection import BestCheckpoint
from .tasks import Task, check_finite, check_outputs, task_losses
from .weighting.base import Weighting
from .weighting.static import Equal

Scores = dict[str, dict[str, float]]


@dataclass
class History:
    """What a run recorded, epoch by epoch.

    Attributes:
        tasks: task names, in the order of every per-task array.
        train_loss: ``(epochs, T)`` training loss per task, averaged over the epoch's examples.
        scores: per evaluated epoch (see ``eval_epochs``), ``{task: {metric: value}}`` on the test set.
        eval_epochs: the epochs (1-based) at which ``scores`` were taken.
        final: the test scores of the model as ``fit`` returns it (the restored best epoch, or the last).
        weights: ``(steps, T)`` task weights the method used at each step.
        val_loss: ``(epochs, T)`` mean validation loss per task, if a validation set was given.
        val_loss_initial: ``(T,)`` the same before the first step (the reference of :mod:`mtl_ref.selection`).
        best_epoch: the epoch (1-based) whose weights were restored, if ``restore_best`` was used.
        diverged: with ``on_divergence="stop"``, the error that stopped the run early (which task's loss went
            non-finite, at which step of which epoch); None if every epoch's losses stayed finite.
        seconds: wall time of each epoch (training and evaluation).
        examples_per_second: training throughput of each epoch.
    """

    tasks: list[str]
    train_loss: list[list[float]] = field(default_factory=list)
    scores: list[Scores] = field(default_factory=list)
    eval_epochs: list[int] = field(default_factory=list)
    final: Scores = field(default_factory=dict)
    weights: list[np.ndarray] = field(default_factory=list)
    val_loss: list[list[float]] = field(default_factory=list)
    val_loss_initial: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    diverged: str | None = None
    seconds: list[float] = field(default_factory=list)
    examples_per_second: list[float] = field(default_factory=list)

    def metric(self, task: str, name: str) -> np.ndarray:
        """One metric of one task over the evaluated epochs."""
        return np.array([s[task][name] for s in self.scores])

    def loss(self, task: str) -> np.ndarray:
        """The mean training loss of one task, per epoch."""
        return np.array(self.train_loss)[:, self.tasks.index(task)]

    def weight_trace(self) -> np.ndarray:
        """The task weights of every step, ``(steps, T)``."""
        return np.concatenate(self.weights) if self.weights else np.zeros((0, len(self.tasks)))

    def to_dict(self) -> dict:
        """Everything recorded, JSON-serialisable (a grid's result can hold it; :meth:`from_dict` reads it back)."""
        return {"tasks": self.tasks, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "val_loss_initial": self.val_loss_initial,
                "best_epoch": self.best_epoch, "diverged": self.diverged, "scores": self.scores, "eval_epochs": self.eval_epochs,
                "final": self.final, "seconds": self.seconds,
                "examples_per_second": self.examples_per_second, "weights": [w.tolist() for w in self.weights]}

    @classmethod
    def from_dict(cls, d: Mapping) -> History:
        """The history :meth:`to_dict` wrote, weight trace included, so a cached run can be plotted again."""
        fields = {k: v for k, v in d.items() if k != "weights"}
        weights = [np.asarray(w, dtype=float) if len(w) else np.zeros((0, 0)) for w in d.get("weights", [])]
        return cls(**fields, weights=weights)

    def save(self, path: Path | str) -> Path:
        """Write the history to ``path`` as JSON (atomically); :meth:`load` reads it back."""
        path = Path(path)
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: Path | str) -> History:
        """The history :meth:`save` wrote to ``path``."""
        return cls.from_dict(json.loads(Path(path).read_text()))


@torch.no_grad()
def evaluate(model: nn.Module, tasks: Sequence[Task], data: MultiTaskData, batch_size: int = 1024,
             amp: bool = False, split: str = "test") -> Scores:
    """Every metric of every task in ``tasks`` over ``data`` (the model may predict other tasks too); metrics
    accumulate on the device, one sync at the end.

    Raises:
        ValueError: ``data`` is empty, or a prediction is NaN or infinite (naming the task and ``split``).
    """
    check_not_empty(data, split)
    was_training = model.training
    model.eval()
    for t in tasks:
        for m in t.metrics.values():
            m.reset()
    nonfinite = torch.zeros(len(tasks), dtype=torch.bool, device=data.device)
    for i, (x, y) in enumerate(data.batches(batch_size)):
        with autocast(data.device, amp):
            out = model(x)
        if i == 0:
            check_outputs(tasks, out, y, allow_extra=True, split=split)
        nonfinite |= _nonfinite_predictions(tasks, out)
        for t in tasks:
            for m in t.metrics.values():
                m.update(out[t.name].float(), y[t.name])
    model.train(was_training)
    _raise_nonfinite_predictions(tasks, nonfinite, split)
    return {t.name: {k: m.compute() for k, m in t.metrics.items()} for t in tasks}


@torch.no_grad()
def mean_losses(model: nn.Module, tasks: Sequence[Task], data: MultiTaskData, batch_size: int = 1024,
                amp: bool = False, split: str = "validation") -> Tensor:
    """The ``(T,)`` per-task losses over ``data``, weighted by batch size (one sync, to check they are finite).

    Raises:
        ValueError: ``data`` is empty, or a prediction is NaN or infinite (naming the task and ``split``).
    """
    check_not_empty(data, split)
    was_training = model.training
    model.eval()
    total = torch.zeros(len(tasks), device=data.device)
    nonfinite = torch.zeros(len(tasks), dtype=torch.bool, device=data.device)
    for x, y in data.batches(batch_size):
        with autocast(data.device, amp):
            out = model(x)
        nonfinite |= _nonfinite_predictions(tasks, out)
        total += task_losses(tasks, out, y) * x.shape[0]
    model.train(was_training)
    _raise_nonfinite_predictions(tasks, nonfinite, split)
    check_finite(tasks, total, where=f"(mean over the {split} data)")
    return total / len(data)


def make_optimizer(model: nn.Module, method: Weighting, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam (AdamW when ``weight_decay`` > 0) over the model, plus the method's own parameters if it has any.

    A :class:`~mtl_ref.models.MultiTaskModel` gives its own parameter groups (:meth:`~.MultiTaskModel.param_groups`),
    so that, for instance, cross-stitch units can learn faster than the network.
    """
    if isinstance(model, MultiTaskModel):
        groups: list[dict] = [g for g in model.param_groups(lr) if g["params"]]
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    own = [p for p in method.parameters() if p.requires_grad]
    if own:
        groups.append({"params": own, "lr": method.lr or lr, "weight_decay": 0.0})
    if weight_decay > 0:
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(groups, lr=lr)


def fit(
    model: nn.Module,
    tasks: Sequence[Task],
    train: MultiTaskData,
    *,
    epochs: int,
    batch_size: int,
    test: MultiTaskData | None = None,
    val: MultiTaskData | None = None,
    restore_best: bool = False,
    eval_every: int = 1,
    method: Weighting | str | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    amp: bool | None = None,
    grad_clip: float | None = None,
    progress: bool | str = True,
    on_divergence: Literal["raise", "stop"] = "raise",
) -> History:
    """Train ``model`` on all ``tasks`` at once and return its :class:`History`.

    Args:
        model: returns ``{task: prediction}``; must already be on ``train``'s device.
        tasks: the tasks to train, each with its loss and metrics.
        train, test: data on the model's device; ``test`` is scored every ``eval_every`` epochs and after the last.
        val, restore_best: a validation set whose per-task losses are recorded every epoch (and once before
            training, in ``History.val_loss_initial``); with ``restore_best`` the model ends with the weights of the
            epoch with the lowest mean relative validation loss (:mod:`mtl_ref.selection`, a criterion that
            favours no weighting method) — early stopping without stopping: the run still lasts ``epochs``, so
            every method gets the same budget.
        epochs, batch_size, lr, weight_decay: the usual; Adam, or AdamW with weight decay.
        method: how the task losses become gradients (:mod:`mtl_ref.weighting`): a method or its name
            (``"upgrad"``, built by :func:`mtl_ref.weighting.method` for these tasks); equal weights by default.
        seed: seeds the order of the training examples.
        amp: mixed precision; by default on for CUDA (bf16 if supported, otherwise fp16 with loss scaling).
        grad_clip: clip the gradient norm of the model's parameters to this value.
        progress: show a progress bar (a string is used as its label).
        on_divergence: what a non-finite training or validation loss does. ``"raise"``: a ``FloatingPointError``
            naming the task, step and epoch. ``"stop"`` (needs ``restore_best``): the run ends there, the error is
            kept in ``History.diverged`` and the model gets the best validation epoch before it, as early stopping
            would give it; a run that diverges in its first epoch still raises, having no epoch to go back to.

    Before the first step every split is checked: not empty, every task's targets present and finite,
    classification targets int64 of shape ``(B,)`` within the head's classes; errors name the task and split.
    A validation or test prediction that is NaN or infinite is an error too (:class:`NonFinitePredictions`).
    """
    if batch_size < 1 or epochs < 1:
        raise ValueError(f"batch_size and epochs must be at least 1, got batch_size={batch_size}, epochs={epochs}")
    splits = {name: data for name, data in (("training", train), ("validation", val), ("test", test))
              if data is not None}
    for name, data in splits.items():
        check_split(tasks, data, name)
    if isinstance(method, str):
        from .weighting import method as named_method

        method = named_method(method, num_tasks=len(tasks))
    device = train.device
    method = (method if method is not None else Equal()).to(device)
    method.reset()
    amp = device.type == "cuda" if amp is None else amp
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype(device) == torch.float16 else None
    optimizer = make_optimizer(model, method, lr, weight_decay)
    generator = torch.Generator().manual_seed(seed)
    if restore_best and val is None:
        raise ValueError("restore_best needs a validation set (val=...)")
    if on_divergence not in ("raise", "stop"):
        raise ValueError(f"on_divergence must be 'raise' or 'stop', got {on_divergence!r}")
    if on_divergence == "stop" and not restore_best:
        raise ValueError("on_divergence='stop' goes back to the best validation epoch, so it needs restore_best=True")
    history = History([t.name for t in tasks])
    checkpoint = None
    if val is not None:
        history.val_loss_initial = mean_losses(model, tasks, val, amp=amp).tolist()
        checkpoint = BestCheckpoint(history.val_loss_initial) if restore_best else None
    steps_per_epoch = train.num_batches(batch_size)
    label = progress if isinstance(progress, str) else type(method).__name__
    bar = progress_bar(total=epochs * steps_per_epoch, enabled=progress is not False, desc=label)
    model.train()
    step = 0
    for epoch in range(epochs):
        start = time.perf_counter()
        running = torch.zeros(len(tasks), device=device)
        step_losses: list[Tensor] = []
        for x, y in train.batches(batch_size, shuffle=True, generator=generator):
            with autocast(device, amp):
                out = model(x)
            if step == 0:
                check_labels(tasks, out, splits)
            losses = task_losses(tasks, out, y, check=step == 0)
            optimizer.zero_grad(set_to_none=True)
            loss_scale = scaler.scale(torch.ones((), device=device)) if scaler else None
            method.before_backward(lambda x=x, y=y: _losses_without_grad(model, tasks, x, y, device, amp))
            method.backward(losses, model, loss_scale)
            penalty = model.regularization() if isinstance(model, MultiTaskModel) else None
            if penalty is not None:
                (penalty if loss_scale is None else penalty * loss_scale).backward()
            if scaler:
                scaler.unscale_(optimizer)
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            method.after_step(lambda x=x, y=y: _losses_without_grad(model, tasks, x, y, device, amp))
            running += losses.detach() * len(x)
            step_losses.append(losses.detach())
            step += 1
            bar.update()
        mean = running / len(train)
        try:
            _check_epoch(tasks, mean, step_losses, epoch)
            method.epoch_end(mean)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_seconds = time.perf_counter() - start
            val_loss = mean_losses(model, tasks, val, amp=amp).tolist() if val is not None else None
        except FloatingPointError as error:
            if on_divergence == "raise" or checkpoint is None or checkpoint.epoch is None:
                raise
            history.diverged = str(error)
            break
        history.train_loss.append(mean.tolist())
        history.weights.append(method.pop_trace())
        if val_loss is not None:
            history.val_loss.append(val_loss)
            if checkpoint is not None:
                checkpoint.offer(model, val_loss, epoch + 1)
        if test is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            history.scores.append(evaluate(model, tasks, test, amp=amp))
            history.eval_epochs.append(epoch + 1)
        history.seconds.append(time.perf_counter() - start)
        history.examples_per_second.append(len(train) / train_seconds)
        bar.set_postfix(_postfix(history), refresh=False)
    bar.close()
    restored = checkpoint is not None and checkpoint.restore(model)
    if restored:
        history.best_epoch = checkpoint.epoch
    elif checkpoint is not None:
        raise RuntimeError(f"restore_best could not pick an epoch: no epoch's mean relative validation loss was "
                           f"finite and below infinity (validation losses {history.val_loss})")
    if test is not None:
        history.final = evaluate(model, tasks, test, amp=amp) if restored else history.scores[-1]
    return history


@torch.no_grad()
def _losses_without_grad(model: nn.Module, tasks: Sequence[Task], x: Tensor, y: Mapping[str, Tensor],
                         device: torch.device, amp: bool) -> Tensor:
    with autocast(device, amp):
        out = model(x)
    return task_losses(tasks, out, y)


def _check_epoch(tasks: Sequence[Task], mean: Tensor, step_losses: list[Tensor], epoch: int) -> None:
    """Raise a ``FloatingPointError`` if a mean loss of the epoch is NaN or infinite, naming the task(s) whose loss
    went non-finite first.

    Once one task's loss is NaN, the shared weights soon make every task's loss NaN, so the means alone would blame
    every task; the per-step losses (left on the device, read only when something went wrong) say which task it was.
    """
    if bool(torch.isfinite(mean).all()):
        return
    losses = torch.stack(step_losses)
    bad = ~torch.isfinite(losses)
    if not bool(bad.any()):  # every step's losses were finite but their sum overflowed: this raises on the means
        check_finite(tasks, mean, where=f"(mean over epoch {epoch + 1})")
    step = int(bad.any(dim=1).nonzero()[0])
    first = bad[step].nonzero().flatten().tolist()
    check_finite([tasks[i] for i in first], losses[step, first], where=f"(at step {step + 1} of epoch {epoch + 1})")


def _postfix(history: History) -> dict[str, str]:
    if history.scores:
        return {f"{t}:{k}": f"{v:.3g}" for t, s in history.scores[-1].items() for k, v in s.items()}
    return {t: f"{v:.3g}" for t, v in zip(history.tasks, history.train_loss[-1])}


def check_not_empty(data: MultiTaskData, split: str) -> None:
    """Raise a ``ValueError`` naming ``split`` if ``data`` holds no examples."""
    if len(data) == 0:
        raise ValueError(f"the {split} data is empty (0 examples)")


def check_split(tasks: Sequence[Task], data: MultiTaskData, split: str) -> None:
    """Check one split before training: not empty, a target for every task, each target fit for its task
    (:meth:`Task.check_target`). Errors name the task and ``split``."""
    check_not_empty(data, split)
    for t in tasks:
        if t.name not in data.y:
            raise KeyError(f"task {t.name!r} has no targets in the {split} data (it holds {sorted(data.y)})")
        t.check_target(data.y[t.name], split)


def check_labels(tasks: Sequence[Task], outputs: Mapping[str, Tensor], splits: Mapping[str, MultiTaskData]) -> None:
    """Check every split's class indices against the number of classes each classification head predicts."""
    for t in tasks:
        prediction = outputs.get(t.name)
        if t.kind == "classification" and isinstance(prediction, Tensor) and prediction.ndim == 2:
            for split, data in splits.items():
                t.check_labels(prediction.shape[1], data.y[t.name], split)


def _nonfinite_predictions(tasks: Sequence[Task], outputs: Mapping[str, Tensor]) -> Tensor:
    """A ``(T,)`` device flag: which tasks' predictions hold a NaN or an infinity (no host sync)."""
    return torch.stack([~torch.isfinite(outputs[t.name]).all() for t in tasks])


class NonFinitePredictions(ValueError, FloatingPointError):
    """A model predicts NaN or infinity: a bad input to a metric (so a ``ValueError``) and, in the middle of
    training, a run that has diverged (so also a ``FloatingPointError``, which ``fit(on_divergence="stop")``
    stops on, whether the training loss or only the validation predictions went non-finite)."""


def _raise_nonfinite_predictions(tasks: Sequence[Task], nonfinite: Tensor, split: str) -> None:
    bad = [t.name for t, flag in zip(tasks, nonfinite.tolist()) if flag]
    if bad:
        raise NonFinitePredictions(f"the model's predictions on the {split} data are NaN or infinite for task(s) "
                         f"{', '.join(map(repr, bad))}")
