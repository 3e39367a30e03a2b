"""Training schedule arithmetic: steps, the steps MindSpore reports, the evenly spaced checkpoints.

Pure functions shared by the yaml renderer (which writes ``save_checkpoint_steps`` and
``keep_checkpoint_max``) and the fine-tuning stage (which records the steps and picks the
checkpoint files).

Dataset sink mode (the entry's ``sink_mode: True, sink_size: 2`` on Ascend) changes what the run
sees, as MindFormers and MindSpore's ``Model.train`` implement it: MindFormers turns the epochs into
``int(steps_per_epoch / sink_size * epochs)`` sinks of ``sink_size`` steps each, and MindSpore calls
the step-end callbacks once per sink, with the step advanced by ``sink_size`` and the loss of the
sink's last step. The loss recorder therefore sees steps ``S, 2S, ...`` and CheckpointMonitor can
only save at those steps: a planned save step off that grid would never be saved, so it is refused
before training starts.
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
    sink_size: int = 1  # steps per callback (1 without dataset sink mode)

    @property
    def recorded_steps(self) -> tuple[int, ...]:
        """The steps at which MindSpore calls step-end callbacks (every ``sink_size``-th)."""
        return tuple(range(self.sink_size, self.total_steps + 1, self.sink_size))

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
             save_checkpoint_steps: int | None = None, sink_size: int = 1) -> Schedule:
    """Steps of a run over ``rows`` examples (last partial batch dropped, as the dataset does).

    Checkpoints are saved every ``total_steps // checkpoints`` steps (rounded down to the sink
    grid) unless a fixed interval is given (the entry saved every 1400 of its 7030 steps); the first
    ``checkpoints`` saves count. A small fixed interval makes the run save more files than that;
    ``Schedule.keep_checkpoint_max`` keeps all of them, so none of the counted ones is rotated away.
    """
    if sink_size < 1:
        raise ConfigError(f"runner_config.sink_size: {sink_size}; expected at least 1")
    steps_per_epoch = rows // global_batch_size
    if steps_per_epoch < 1:
        raise ConfigError(f"finetune.global_batch_size: {global_batch_size} is larger than the "
                          f"{rows} rows of the training set; expected at most {rows}")
    # MindFormers' check_runner_config: int(steps_per_epoch / sink_size * epochs) sinks.
    total = int(steps_per_epoch / sink_size * epochs) * sink_size
    if total < sink_size:
        raise ConfigError(f"a run of {steps_per_epoch * epochs} steps holds no whole sink of "
                          f"{sink_size} steps")
    interval = save_checkpoint_steps or total // checkpoints // sink_size * sink_size
    if save_checkpoint_steps and save_checkpoint_steps % sink_size:
        raise ConfigError(f"finetune.save_checkpoint_steps: {save_checkpoint_steps} is not a "
                          f"multiple of the sink size {sink_size}; in dataset sink mode MindSpore "
                          f"reports (and CheckpointMonitor saves) only at multiples of {sink_size} steps")
    if interval < 1 or interval * checkpoints > total:
        raise ConfigError(f"finetune.checkpoints: {checkpoints} checkpoints every {interval} steps do "
                          f"not fit a run of {total} steps ({rows} rows, {epochs} epochs, global "
                          f"batch {global_batch_size}, sink size {sink_size}); expected at most "
                          f"{total} steps in all")
    steps = tuple(interval * (k + 1) for k in range(checkpoints))
    return Schedule(rows, epochs, global_batch_size, steps_per_epoch, total, interval, steps, sink_size)
