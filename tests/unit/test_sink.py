"""Dataset sink mode: the loss recorder and the checkpoint planner against MindSpore's own loop.

MindSpore's CPU backend does not sink datasets: ``Model.train(..., dataset_sink_mode=True)`` falls
back to step-by-step training there (and MindFormers, having turned the epochs into sinks, then
trains ``sink_size`` times too many steps), so the CPU default trains without sink mode. These
tests run the Ascend code path of ``mindspore.train.Model`` instead: ``_train_dataset_sink_process``
with its real callback sequence (``cur_step_num`` advanced by ``sink_size`` once per sink,
``net_outputs`` the sink's last loss), the device queue replaced by a helper that trains the
first ``sink_size - 1`` steps of each sink itself, as the device loop does. The callbacks are the
ones a fine-tuning run uses: the project's loss recorder and MindFormers' CheckpointMonitor.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mathlora.errors import ConfigError
from mathlora.model import training
from mathlora.model.schedule import schedule


class _DeviceLoop:
    """What the device-side loop of one sink does, on the host: S - 1 steps, then the S-th."""

    def __init__(self, dataset, sink_size, network):
        self._sink, self.network = sink_size, network
        self.batches = dataset.repeat().create_tuple_iterator(num_epochs=1)

    def sink_size(self):
        return self._sink

    def __iter__(self):
        for _ in range(self._sink - 1):
            self.network(*next(self.batches))
        yield tuple(next(self.batches))

    def continue_send(self):
        pass

    def stop_send(self):
        pass

    def release(self):
        pass


def sink_train(monkeypatch, tmp_path, *, batches: int, sink_size: int, epochs: int,
               save_steps: int) -> tuple[list[int], list[int]]:
    """(steps the loss recorder saw, step_num of every saved checkpoint) of a sink-mode run."""
    import mindspore as ms
    import mindspore.dataset as ds
    import mindspore.train.model as model_module
    from mindformers.core.callback.callback import CheckpointMonitor
    from mindspore import nn

    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")

    class AscendView:
        """model.py alone believes it runs on Ascend, so it takes the dataset-sink loop."""

        def __getattr__(self, name):
            return getattr(ms.context, name)

        def get_context(self, key):
            return "Ascend" if key == "device_target" else ms.context.get_context(key)

    def device_queue(self, is_train, dataset, dataset_sink_mode, sink_size=-1, epoch_num=1,
                     dataset_helper=None):
        network = self._train_network
        network.set_train(True)
        if dataset_helper is None:
            dataset_helper = _DeviceLoop(dataset, sink_size, network)
        return dataset_helper, network

    monkeypatch.setattr(model_module, "context", AscendView())
    monkeypatch.setattr(model_module.Model, "_exec_preprocess", device_queue)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batches * 2, 3)).astype(np.float32)
    y = rng.standard_normal((batches * 2, 1)).astype(np.float32)
    data = ds.NumpySlicesDataset((x, y), column_names=["x", "y"], shuffle=False).batch(2)
    net = nn.Dense(3, 1)
    model = ms.Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.01))
    # As MindFormers drives it: the epochs turned into sinks (check_runner_config).
    sinks = int(batches / sink_size * epochs)
    log = tmp_path / "loss.jsonl"
    monitor = CheckpointMonitor(prefix="llama3_8b", directory=str(tmp_path), save_checkpoint_steps=save_steps,
                                keep_checkpoint_max=100, integrated_save=False,
                                append_info=[{"epoch_num": 0, "step_num": 0}])
    model.train(sinks, data, callbacks=[training.loss_recorder(log), monitor],
                dataset_sink_mode=True, sink_size=sink_size)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    saved = sorted(training.index_checkpoints(tmp_path / "checkpoint" / "rank_0"))
    return steps, saved


@pytest.mark.parametrize("batches, sink_size, epochs, save_steps", [
    (10, 2, 2, 4),   # the entry's sink_size 2
    (12, 4, 1, 4),
    (7, 2, 2, 2),    # steps per epoch not a multiple of the sink: MindFormers rounds down
])
def test_sink_recorder_and_planner_follow_mindspores_loop(monkeypatch, tmp_path, batches, sink_size,
                                                          epochs, save_steps):
    plan = schedule(batches, epochs=epochs, global_batch_size=1, checkpoints=2,
                    save_checkpoint_steps=save_steps, sink_size=sink_size)
    steps, saved = sink_train(monkeypatch, tmp_path, batches=batches, sink_size=sink_size,
                              epochs=epochs, save_steps=save_steps)
    assert tuple(steps) == plan.recorded_steps  # S, 2S, ... total
    assert set(plan.checkpoint_steps) <= set(saved)  # every planned save is written
    assert saved[-1] == plan.total_steps


def test_sink_schedule_of_the_entry():
    # 90,000 rows / 64 = 1406 steps per epoch, 5 epochs, sink_size 2: 3515 sinks of 2 steps.
    plan = schedule(90_000, epochs=5, global_batch_size=64, checkpoints=5, save_checkpoint_steps=1400,
                    sink_size=2)
    assert plan.total_steps == 7030 and plan.recorded_steps[:3] == (2, 4, 6)
    assert len(plan.recorded_steps) == 3515 and plan.recorded_steps[-1] == 7030
    assert plan.checkpoint_steps == (1400, 2800, 4200, 5600, 7000)
    # evenly spaced without the entry's interval: 7030 // 5 = 1406, on the sink grid
    assert schedule(90_000, epochs=5, global_batch_size=64, checkpoints=5,
                    sink_size=2).checkpoint_steps == (1406, 2812, 4218, 5624, 7030)
    assert schedule(90_000, epochs=5, global_batch_size=64, checkpoints=5,
                    sink_size=4).save_checkpoint_steps == 1404


def test_sink_save_step_off_the_grid_is_refused_before_training():
    with pytest.raises(ConfigError, match="save_checkpoint_steps: 1401 is not a multiple of the sink "
                                          "size 2"):
        schedule(90_000, epochs=5, global_batch_size=64, checkpoints=5, save_checkpoint_steps=1401,
                 sink_size=2)
