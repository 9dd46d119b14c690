"""Training when each task has its own data set: sample tasks, sample a batch per task, sum, step.

When the tasks do not share their inputs (each task i has its own p_i(x)), a step cannot feed one batch to every
head. The usual recipe, and the one this module implements, is:

1. sample ``tasks_per_step`` of the tasks (all of them by default);
2. draw a batch from each sampled task's own training set;
3. sum the sampled tasks' losses, backpropagate once, take one optimizer step.

The model is called as ``model(x, task=name)`` and returns that task's prediction. Batches are drawn with
replacement by indices generated on the data's device, so a step never waits for the host.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from .data.tensors import MultiTaskData
from .progress import progress_bar
from .selection import BestCheckpoint
from .tasks import Task, check_finite
from .train import History, Scores, make_optimizer
from .weighting.static import Equal

TaskData = Mapping[str, MultiTaskData]


def _check_task_data(tasks: Sequence[Task], data: TaskData, role: str) -> None:
    for t in tasks:
        if t.name not in data:
            raise KeyError(f"task {t.name!r} has no {role} set (the sets given are for {sorted(data)})")
        if t.name not in data[t.name].y:
            raise KeyError(f"the {role} set of task {t.name!r} holds no targets for it (it has {data[t.name].tasks})")


@torch.no_grad()
def evaluate_tasks(model: nn.Module, tasks: Sequence[Task], data: TaskData, batch_size: int = 1024) -> Scores:
    """Every metric of every task, each task scored on its own data set."""
    _check_task_data(tasks, data, "evaluation")
    was_training = model.training
    model.eval()
    scores: Scores = {}
    for t in tasks:
        for m in t.metrics.values():
            m.reset()
        for i, (x, y) in enumerate(data[t.name].batches(batch_size)):
            prediction = model(x, task=t.name)
            if i == 0:
                t.check(prediction, y[t.name])
            for m in t.metrics.values():
                m.update(prediction.float(), y[t.name])
        scores[t.name] = {k: m.compute() for k, m in t.metrics.items()}
    model.train(was_training)
    return scores


@torch.no_grad()
def task_mean_losses(model: nn.Module, tasks: Sequence[Task], data: TaskData, batch_size: int = 1024) -> Tensor:
    """The ``(T,)`` losses, each task's over its own data set, left on the device."""
    was_training = model.training
    model.eval()
    out = []
    for t in tasks:
        d = data[t.name]
        total = torch.zeros((), device=d.device)
        for x, y in d.batches(batch_size):
            total += t.loss(model(x, task=t.name).float(), y[t.name]) * x.shape[0]
        out.append(total / len(d))
    model.train(was_training)
    return torch.stack(out)


def fit_task_batches(
    model: nn.Module,
    tasks: Sequence[Task],
    train: TaskData,
    *,
    steps: int,
    batch_size: int,
    tasks_per_step: int | None = None,
    test: TaskData | None = None,
    val: TaskData | None = None,
    restore_best: bool = False,
    eval_every: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool | str = True,
) -> History:
    """Train on tasks that each have their own data set; return a :class:`~mtl_ref.train.History`.

    The history's "epochs" are blocks of ``eval_every`` steps: training losses are averaged over each block,
    ``val`` losses and ``test`` scores are taken at its end, and ``restore_best`` keeps the weights of the block end
    with the lowest mean relative validation loss (:mod:`mtl_ref.selection`).
    """
    _check_task_data(tasks, train, "training")
    for name, sets in (("test", test), ("validation", val)):
        if sets is not None:
            _check_task_data(tasks, sets, name)
    if restore_best and val is None:
        raise ValueError("restore_best needs validation sets (val=...)")
    k = len(tasks) if tasks_per_step is None else tasks_per_step
    if not 1 <= k <= len(tasks):
        raise ValueError(f"tasks_per_step must be between 1 and {len(tasks)}, got {tasks_per_step}")
    device = next(iter(train.values())).device
    optimizer = make_optimizer(model, Equal(), lr, weight_decay)
    task_order = torch.Generator().manual_seed(seed)
    index_gen = torch.Generator(device=device).manual_seed(seed)
    history = History([t.name for t in tasks])
    checkpoint = None
    if val is not None:
        history.val_loss_initial = task_mean_losses(model, tasks, val).tolist()
        checkpoint = BestCheckpoint(history.val_loss_initial) if restore_best else None
    running = torch.zeros(len(tasks), device=device)
    counts = torch.zeros(len(tasks))
    bar = progress_bar(total=steps, enabled=progress is not False,
                       desc=progress if isinstance(progress, str) else "task batches")
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        chosen = torch.randperm(len(tasks), generator=task_order)[:k].sort().values.tolist()
        losses = []
        for i in chosen:
            t, data = tasks[i], train[tasks[i].name]
            idx = torch.randint(len(data), (min(batch_size, len(data)),), device=device, generator=index_gen)
            prediction = model(data.x.index_select(0, idx), task=t.name)
            target = data.y[t.name].index_select(0, idx)
            if step == 0:
                t.check(prediction, target)
            losses.append(t.loss(prediction.float(), target))
        stacked = torch.stack(losses)
        if step == 0:
            check_finite([tasks[i] for i in chosen], stacked)
        optimizer.zero_grad(set_to_none=True)
        stacked.sum().backward()
        optimizer.step()
        running[chosen] += stacked.detach()
        counts[chosen] += 1
        bar.update()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            mean = running / counts.clamp(min=1).to(device)
            check_finite(tasks, mean, where=f"(mean over steps up to {step + 1})")
            history.train_loss.append(mean.tolist())
            running.zero_()
            counts.zero_()
            if val is not None:
                val_loss = task_mean_losses(model, tasks, val).tolist()
                history.val_loss.append(val_loss)
                if checkpoint is not None:
                    checkpoint.offer(model, val_loss, len(history.train_loss))
            if test is not None:
                history.scores.append(evaluate_tasks(model, tasks, test))
                history.eval_epochs.append(len(history.train_loss))
            history.seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
    bar.close()
    restored = checkpoint is not None and checkpoint.restore(model)
    if restored:
        history.best_epoch = checkpoint.epoch
    if test is not None:
        history.final = evaluate_tasks(model, tasks, test) if restored else history.scores[-1]
    return history
