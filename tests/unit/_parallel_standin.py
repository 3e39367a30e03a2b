"""A stand-in for what a model-parallel Ascend run leaves: per-rank shards and strategy files.

MindSpore 2.9 compiles no semi-auto-parallel graph on CPU ("Invalid backend: CPU"), so it cannot
write strategy files here. The layout is taken from the network itself instead: built under
``semi_auto_parallel`` with a model-parallel config, MindFormers' Llama and MindPet's LoRA layers
record every operator's shard strategy while they are constructed (only the device count of the
missing communication group is supplied). Each weight's split follows from the strategy of the
operator that consumes it; the strategy file is written in MindSpore's own protobuf format
(``mindspore.train.node_strategy_pb2.ParallelStrategyMap``), one per rank as MindFormers names them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

# Which parameter of a cell each primitive consumes, and which of its inputs that parameter is.
CONSUMERS = {"matmul": ("weight", 1), "lora_a_matmul": ("mindpet_delta_lora_a", 1),
             "lora_b_matmul": ("mindpet_delta_lora_b", 1), "gather": ("embedding_weight", 0)}

_PROBE = """
import json, sys
import mindspore as ms
ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
devices = int(sys.argv[2])
ms.set_auto_parallel_context(parallel_mode="semi_auto_parallel", device_num=devices, full_batch=True)
from mindformers.modules.transformer import TransformerOpParallelConfig, op_parallel_config
op_parallel_config.D.get_group_size = lambda *args: devices  # no CPU communication group
from mathlora.model import network
config = network.llama_config(sys.argv[1], lora=True)
config.parallel_config = TransformerOpParallelConfig(data_parallel=1, model_parallel=devices)
net = network.build_causal_lm(config, lora=True)
consumers = json.loads(sys.argv[3])
splits = {}
for _, cell in net.cells_and_names():
    for attr, (param, position) in consumers.items():
        prim, weight = getattr(cell, attr, None), getattr(cell, param, None)
        if prim is None or weight is None or getattr(prim, "in_strategy", None) is None:
            continue
        splits[weight.name] = list(prim.in_strategy[position])
print(json.dumps({"splits": splits, "names": [p.name for p in net.get_parameters()]}))
"""


def parameter_splits(yaml_path: Path, devices: int) -> tuple[dict[str, list[int]], list[str]]:
    """(parameter -> per-dimension split counts, every parameter name) of the yaml's LoRA network."""
    env = {**os.environ, "LOG_MF_PATH": str(Path(yaml_path).parent / "mflog")}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(yaml_path), str(devices),
                           json.dumps(CONSUMERS)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["splits"], found["names"]


def layout_of(name: str, splits: dict[str, list[int]], ndim: int, devices: int) -> list[int]:
    """MindSpore tensor_map over dev_matrix [devices]: 0 for the split dimension, -1 elsewhere.

    Optimizer moments (adam_m./adam_v.) are laid out as their parameter.
    """
    base = name.split(".", 1)[1] if name.startswith(("adam_m.", "adam_v.")) else name
    strategy = splits.get(base, [1] * ndim)
    split = [d for d, count in enumerate(strategy) if count > 1]
    assert len(split) <= 1 and all(strategy[d] == devices for d in split), (name, strategy)
    return [0 if d in split else -1 for d in range(ndim)]


def write_strategy(path: Path, layouts: dict[str, list[int]], devices: int) -> Path:
    """A strategy file in MindSpore's protobuf format for the given tensor maps."""
    from mindspore.train import node_strategy_pb2 as pb

    strategy = pb.ParallelStrategyMap()
    strategy.current_stage = 0
    item = strategy.parallel_strategy_item.add()  # the stage record strategy merging reads
    item.node_name = "stage"
    item.parallel_strategys.stage = 0
    for name, tensor_map in layouts.items():
        layout = strategy.parallel_layout_item.add()
        layout.param_name = name
        parts = layout.parallel_layouts
        parts.dev_matrix.add().dim.extend([devices])
        parts.tensor_map.add().dim.extend(tensor_map)
        parts.param_split_shape.add()
        parts.indices_offset.add()
        parts.field, parts.opt_weight_shard_step, parts.opt_weight_shard_size = 0, 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(strategy.SerializeToString())
    return path


def shard(tensors: dict[str, np.ndarray], layouts: dict[str, list[int]], devices: int
          ) -> list[dict[str, np.ndarray]]:
    """Each rank's slice of every tensor (a tensor_map of all -1 is replicated)."""
    ranks: list[dict[str, np.ndarray]] = [{} for _ in range(devices)]
    for name, value in tensors.items():
        tensor_map = layouts.get(name, [-1] * value.ndim)
        axis = tensor_map.index(0) if 0 in tensor_map else None
        pieces = np.split(value, devices, axis=axis) if axis is not None else [value] * devices
        for rank, piece in enumerate(pieces):
            ranks[rank][name] = np.ascontiguousarray(piece)
    return ranks
