"""Training schedule arithmetic: steps per epoch and the evenly spaced checkpoint steps.

Pure functions shared by the yaml renderer (which writes ``save_checkpoint_steps``) and the
fine-tuning stage (which records the steps and picks the checkpoint files).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mathlora.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    rows: int
    epochs: int
    global_batch_size: int
    steps_per_epoch: int
    total_steps: int
    save_checkpoint_steps: int
    checkpoint_steps: tuple[int, ...]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["checkpoint_steps"] = list(self.checkpoint_steps)
        return data


def schedule(rows: int, *, epochs: int, global_batch_size: int, checkpoints: int,
             save_checkpoint_steps: int | None = None) -> Schedule:
    """Steps of a run over ``rows`` examples (last partial batch dropped, as the dataset does).

    Checkpoints are saved every ``total_steps // checkpoints`` steps unless a fixed interval is
    given (the entry saved every 1400 of its 7030 steps); the first ``checkpoints`` saves count.
    """
    steps_per_epoch = rows // global_batch_size
    if steps_per_epoch < 1:
        raise ConfigError(f"finetune.global_batch_size: {global_batch_size} is larger than the "
                          f"{rows} rows of the training set; expected at most {rows}")
    total = steps_per_epoch * epochs
    interval = save_checkpoint_steps or total // checkpoints
    if interval < 1 or interval * checkpoints > total:
        raise ConfigError(f"finetune.checkpoints: {checkpoints} checkpoints every {interval} steps do "
                          f"not fit a run of {total} steps ({rows} rows, {epochs} epochs, global "
                          f"batch {global_batch_size}); expected at most {total} steps in all")
    steps = tuple(interval * (k + 1) for k in range(checkpoints))
    return Schedule(rows, epochs, global_batch_size, steps_per_epoch, total, interval, steps)
