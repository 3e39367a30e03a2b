"""Training schedule arithmetic: steps per epoch and the evenly spaced checkpoint steps.

Pure functions shared by the yaml renderer (which writes ``save_checkpoint_steps`` and
``keep_checkpoint_max``) and the
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

    @property
    def saves(self) -> int:
        """Checkpoint files the run writes: one per interval, plus the last step when it is off the grid."""
        return self.total_steps // self.save_checkpoint_steps + (
            1 if self.total_steps % self.save_checkpoint_steps else 0)

    @property
    def keep_checkpoint_max(self) -> int:
        """MindSpore keeps only the newest ``keep_checkpoint_max`` files: keep every one written
        (at least ``saves``, and one spare) so the planned early checkpoints survive the rotation."""
        return self.total_steps // self.save_checkpoint_steps + 1

    def as_dict(self) -> dict:
        data = asdict(self)
        data["checkpoint_steps"] = list(self.checkpoint_steps)
        return data


def schedule(rows: int, *, epochs: int, global_batch_size: int, checkpoints: int,
             save_checkpoint_steps: int | None = None) -> Schedule:
    """Steps of a run over ``rows`` examples (last partial batch dropped, as the dataset does).

    Checkpoints are saved every ``total_steps // checkpoints`` steps unless a fixed interval is
    given (the entry saved every 1400 of its 7030 steps); the first ``checkpoints`` saves count.
    A small fixed interval makes the run save more files than that (9 steps every step: 9 saves);
    ``Schedule.keep_checkpoint_max`` keeps all of them, so none of the counted ones is rotated away.
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
