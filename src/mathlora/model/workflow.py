"""Helpers the model rules call to turn the config into command-line arguments."""

from __future__ import annotations

import json
from typing import Any

MODEL_YAML_SECTIONS = ("seed", "device", "model", "finetune", "evaluate")


def model_settings(config: dict[str, Any]) -> str:
    """The config sections the MindFormers yaml is rendered from, as one JSON argument."""
    return json.dumps({key: config[key] for key in MODEL_YAML_SECTIONS}, sort_keys=True)


def launcher_prefix(config: dict[str, Any], log_dir: str = "logs/finetune/msrun") -> str:
    """``msrun ...`` in front of the training command when the config asks for it, else ''."""
    launch = config["finetune"]["launcher"]
    if launch["type"] != "msrun":
        return ""
    return (f"msrun --worker_num={launch['worker_num']} --local_worker_num={launch['local_worker_num']}"
            f" --master_addr={launch['master_addr']} --master_port={launch['master_port']}"
            f" --node_rank={launch['node_rank']} --log_dir={log_dir} --join=True"
            f" --cluster_time_out=7200 ")
