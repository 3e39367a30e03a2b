"""Shared MindFormers Trainer plumbing for base pretraining and LoRA fine-tuning.

Both stages run the same code path: a rendered yaml, ``mindformers.Trainer`` in GRAPH_MODE, the
yaml's CheckpointMonitor, and a callback that records the loss of every step to a JSON Lines file
(appended, so a resumed run continues the record).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mathlora.contest import CHECKPOINT_CALLBACK, R11_CHECKPOINT_CALLBACK
from mathlora.errors import ConfigError, InputError
from mathlora.model import network

# msrun (MindSpore 2.9, parallel/cluster/process_entity/_api.py) starts one more process on the
# master machine beside the workers: the scheduler, running the same command with MS_ROLE=MS_SCHED
# and RANK_ID=0. It must not be mistaken for rank 0.
ROLE_ENV, SCHEDULER_ROLE = "MS_ROLE", "MS_SCHED"


def is_scheduler() -> bool:
    """Whether this process is msrun's scheduler (it serves the cluster, it trains nothing)."""
    return os.environ.get(ROLE_ENV) == SCHEDULER_ROLE


def rank_id() -> int:
    """This worker's rank under msrun (0 for a single process); the scheduler has none."""
    if is_scheduler():
        raise ConfigError(f"{ROLE_ENV}={SCHEDULER_ROLE}: msrun's scheduler process has no rank; "
                          "expected it to serve the cluster only (training.serve_cluster)")
    return int(os.environ.get("RANK_ID", os.environ.get("MS_NODE_ID", "0")) or 0)


def serve_cluster(cfg) -> None:
    """The scheduler's whole part: join the cluster, whose rendezvous MindSpore's ``init`` (called by
    MindFormers' context for a parallel yaml) serves until the workers are done. Touches no file."""
    network.set_context(str(cfg.context.device_target).lower(), cfg)


def cut_torn_tail(path: Path) -> int:
    """Remove a partial last line (no newline: a crash mid-append) so appends start a new line.

    Returns the number of bytes cut (0 when the file is absent or ends with a newline).
    """
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as handle:
        handle.truncate(keep)
    return len(data) - keep


def loss_recorder(path: Path, offset: int = 0):
    """A MindSpore callback appending ``{"step", "loss", "lr"}`` per step to ``path``.

    A resumed run counts its steps from 1 again; ``offset`` (the resumed global step) maps them
    back to global steps. A torn last line left by a crash is cut off first.
    """
    from mindspore.train.callback import Callback

    cut = cut_torn_tail(path)
    if cut:
        print(f"{path}: cut a torn last line ({cut} bytes) before appending", flush=True)

    class LossRecorder(Callback):
        def on_train_step_end(self, run_context):
            params = run_context.original_args()
            outputs = params.net_outputs
            loss = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
            record = {"step": offset + int(params.cur_step_num), "loss": float(loss.asnumpy().reshape(-1)[0])}
            if isinstance(outputs, (tuple, list)) and len(outputs) > 3:
                record["lr"] = float(outputs[3].asnumpy().reshape(-1)[0])
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return LossRecorder()


def _loss_record(line: str) -> dict[str, Any] | None:
    """A parsed ``{"step": int, "loss": number, ...}`` line, or None if it is not one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if (not isinstance(record, dict) or not isinstance(record.get("step"), int)
            or not isinstance(record.get("loss"), (int, float)) or isinstance(record["step"], bool)):
        return None
    return record


def read_loss_log(path: Path) -> tuple[dict[int, dict[str, Any]], int]:
    """Step -> last record of a loss log, and the number of torn lines skipped.

    A crash in the middle of an append leaves a partial last line: it is skipped and counted (a
    resumed run cuts it off before appending, see :func:`cut_torn_tail`). A malformed line
    anywhere else is an error naming the line.
    """
    by_step: dict[int, dict[str, Any]] = {}
    torn = 0
    if not path.is_file():
        return by_step, torn
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _loss_record(line)
        if record is None:
            if number == len(lines):
                torn += 1
                continue
            raise InputError(path, f"not a loss record {line[:80]!r}; expected a JSON object with "
                             "integer 'step' and numeric 'loss' (only a torn last line is skipped)",
                             line=number)
        by_step[record["step"]] = record
    return by_step, torn


def read_losses(path: Path, last_step: int | None = None) -> list[dict[str, Any]]:
    """Losses per step; a step recorded twice (resumed run) keeps its last record."""
    by_step, _ = read_loss_log(path)
    steps = sorted(s for s in by_step if last_step is None or s <= last_step)
    return [by_step[s] for s in steps]


def checkpoint_monitor(cfg) -> dict[str, Any]:
    """The yaml's CheckpointMonitor callback (the entry spells it CheckpointMointor)."""
    for callback in cfg.callbacks or []:
        if str(callback.get("type", "")) in (CHECKPOINT_CALLBACK, R11_CHECKPOINT_CALLBACK):
            return callback
    raise ConfigError("yaml: callbacks has no CheckpointMonitor; expected one with save_checkpoint_steps")


def use_installed_callback_name(cfg) -> bool:
    """Rename an r1.1-spelled checkpoint callback to 1.9's name; True if one was renamed.

    MindFormers 1.9 gives the callback its resume defaults (``append_info`` with the resumed step)
    only under its own name; the r1.1 alias would save a step_num relative to the last resume, and
    the next resume would skip that many batches instead of the global step: replayed data.
    """
    renamed = False
    for callback in cfg.callbacks or []:
        if callback.get("type") == R11_CHECKPOINT_CALLBACK:
            callback["type"] = CHECKPOINT_CALLBACK
            renamed = True
    return renamed


def trainable_count(cfg) -> int:
    """Trainable parameters of the yaml's network (LoRA or full), counted without weights."""
    from mathlora.model import params

    model_config = dict(cfg.model.model_config)
    if model_config.get("pet_config"):
        return params.count(model_config)["trainable_parameters"]
    return params.count_plain(model_config)


def run_trainer(cfg, *, mode: str, checkpoint: str | None, resume: bool, loss_path: Path,
                step_offset: int = 0) -> int:
    """Run ``Trainer.finetune`` / ``.train`` on a MindFormerConfig; returns the trainable count.

    ``checkpoint`` is the base weights (fresh run) or the checkpoint folder (``resume``).
    """
    network.set_context(str(cfg.context.device_target).lower(), cfg)
    from mindformers import Trainer

    cfg.resume_training = bool(resume)
    cfg.load_checkpoint = checkpoint or ""
    cfg.model.model_config.checkpoint_name_or_path = ""
    if use_installed_callback_name(cfg):
        print(f"callbacks: {R11_CHECKPOINT_CALLBACK} (r1.1's name) trained as {CHECKPOINT_CALLBACK}, "
              "so MindFormers gives it the resumed step", flush=True)
    count = trainable_count(cfg)
    trainer = Trainer(args=cfg, task="text_generation", callbacks=[loss_recorder(loss_path, step_offset)])
    # The count the way MindFormers r1.1 printed it (newer versions print millions).
    print(f"Network Parameters: {count}", flush=True)
    if mode == "finetune":
        trainer.finetune(finetune_checkpoint=checkpoint or False, resume_training=bool(resume))
    else:
        trainer.train(train_checkpoint=checkpoint or False, resume_training=bool(resume))
    return count


def global_step(path: Path) -> int:
    """The global step a MindFormers training checkpoint was saved at (read without the weights)."""
    import mindspore as ms

    try:
        values = ms.load_checkpoint(str(path), choice_func=lambda name: name == "global_step")
    except Exception as exc:  # damaged file
        raise InputError(path, f"cannot read checkpoint ({exc})") from None
    if "global_step" not in values:
        raise InputError(path, "training checkpoint without global_step", field="global_step")
    return int(values["global_step"].asnumpy().reshape(-1)[0])


def index_checkpoints(folder: Path) -> dict[int, Path]:
    """Global step -> checkpoint file of one rank folder.

    File names cannot be trusted: after a resume CheckpointMonitor restarts its epoch/step
    numbering and adds a suffix to the prefix; the stored global_step is the truth.
    """
    steps: dict[int, Path] = {}
    for path in sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime):
        steps[global_step(path)] = path
    return steps


def resumable(workdir: Path, rank: int = 0) -> Path | None:
    """The last checkpoint an interrupted run left (per its meta.json), if it is readable."""
    meta = workdir / "checkpoint" / f"rank_{rank}" / "meta.json"
    if not meta.is_file():
        return None
    try:
        last = json.loads(meta.read_text(encoding="utf-8"))["last_ckpt_file"]
    except (json.JSONDecodeError, KeyError):
        raise InputError(meta, "cannot resume: expected a MindFormers meta.json with last_ckpt_file; "
                         "delete the folder to start afresh") from None
    path = meta.parent / last
    return path if path.is_file() and path.stat().st_size > 0 else None


def plot_losses(losses: list[dict[str, Any]], path: Path, *, title: str,
                marks: tuple[int, ...] = ()) -> None:
    """Loss per step (PNG, Agg), with the saved checkpoints marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mathlora.artifacts import atomic_output

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot([r["step"] for r in losses], [r["loss"] for r in losses], lw=1)
    for k, step in enumerate(marks, 1):
        ax.axvline(step, color="grey", ls=":", lw=0.8)
        ax.text(step, ax.get_ylim()[1], f"ckpt{k}", fontsize=7, ha="right", va="top")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
