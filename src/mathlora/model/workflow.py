"""Helpers the model rules call to turn the config into command-line arguments."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from mathlora.contest import MSRUN_ENVIRONMENT
from mathlora.errors import ConfigError

MODEL_YAML_SECTIONS = ("seed", "device", "model", "finetune", "evaluate")
# Only the evaluate keys the yamls hold: a rule's params are a rerun trigger, so judging a bundle
# (evaluate.judge_submission) or changing the comparison rule must not re-render, let alone re-train.
MODEL_YAML_EVALUATE_KEYS = ("batch_size", "max_length", "max_new_tokens", "min_new_tokens")
# msrun waits this long for every worker to join the cluster; the launcher's 600 s is too short for
# an 8B graph to compile on a busy host, so the run allows two hours.
CLUSTER_TIME_OUT = 7200


def model_settings(config: dict[str, Any]) -> str:
    """The config sections the MindFormers yaml is rendered from, as one JSON argument."""
    settings = {key: config[key] for key in MODEL_YAML_SECTIONS}
    settings["evaluate"] = {key: settings["evaluate"][key] for key in MODEL_YAML_EVALUATE_KEYS}
    return json.dumps(settings, sort_keys=True)


def check_launcher(finetune: dict[str, Any]) -> None:
    """The launcher must start exactly one process per device of the parallel layout.

    msrun starts ``local_worker_num`` processes on each of ``worker_num / local_worker_num``
    machines (``node_rank`` 0..nodes-1); MindFormers needs data_parallel x model_parallel of them.
    """
    launch, parallel = finetune["launcher"], finetune["parallel"]
    devices = parallel["data_parallel"] * parallel["model_parallel"]
    if launch["type"] != "msrun":
        if devices != 1:
            raise ConfigError(f"finetune.parallel: data_parallel x model_parallel = {devices} needs "
                              "finetune.launcher.type: msrun; expected 1 x 1 for a single process")
        return
    missing = [key for key in ("worker_num", "local_worker_num", "master_addr", "master_port",
                               "node_rank") if key not in launch]
    if missing:
        raise ConfigError(f"finetune.launcher: msrun needs {missing}")
    workers, local = launch["worker_num"], launch["local_worker_num"]
    if workers % local:
        raise ConfigError(f"finetune.launcher.worker_num: {workers} is not a multiple of "
                          f"local_worker_num {local} (workers per machine)")
    nodes = workers // local
    if not 0 <= launch["node_rank"] < nodes:
        raise ConfigError(f"finetune.launcher.node_rank: {launch['node_rank']}; expected 0..{nodes - 1} "
                          f"for {nodes} machine(s) of {local} workers")
    if devices != workers:
        raise ConfigError(f"finetune.launcher.worker_num: {workers}; expected data_parallel x "
                          f"model_parallel = {parallel['data_parallel']} x {parallel['model_parallel']} "
                          f"= {devices}")


LAUNCH_ENV = "MATHLORA_LAUNCH_ID"


def launch_id(config: dict[str, Any]) -> str:
    """One id for every machine of a launch: a hash of the config each machine runs, without the
    one key that differs between them (``finetune.launcher.node_rank``)."""
    shared = {key: copy.deepcopy(config[key]) for key in ("run_name", *MODEL_YAML_SECTIONS) if key in config}
    shared.get("finetune", {}).get("launcher", {}).pop("node_rank", None)
    digest = hashlib.sha256(json.dumps(shared, sort_keys=True).encode("utf-8")).hexdigest()
    return f"config-{digest[:16]}"


def training_command(config: dict[str, Any], log_dir: str) -> str:
    """How the training rule runs ``mathlora``: directly, or every worker under ``msrun``.

    msrun starts ``python <script> ...`` in each worker, so under msrun the CLI is run as the
    module ``mathlora.cli`` (the venv's python must come first on PATH). The flags are those of
    MindFormers' msrun_launcher.sh with the entry's ``... 4`` (port 8118, the launcher's
    ``HCCL_BUFFSIZE`` for the workers), with the machine layout spelled out so that the same command
    serves a scale-out (each machine runs it with its own node_rank). Two choices differ from the
    launcher's defaults: ``--join=True`` (Snakemake must wait for the workers, or the rule would
    end while they train) and a two-hour cluster time-out (:data:`CLUSTER_TIME_OUT`). The workers
    also get :func:`launch_id`, so the ranks of every machine follow the same resume decision.
    """
    check_launcher(config["finetune"])
    launch = config["finetune"]["launcher"]
    if launch["type"] != "msrun":
        return "mathlora"
    environment = " ".join(f"{key}={value}" for key, value in
                           {**MSRUN_ENVIRONMENT, LAUNCH_ENV: launch_id(config)}.items())
    return (f"env {environment} msrun --worker_num={launch['worker_num']}"
            f" --local_worker_num={launch['local_worker_num']}"
            f" --master_addr={launch['master_addr']} --master_port={launch['master_port']}"
            f" --node_rank={launch['node_rank']} --log_dir={log_dir} --join=True"
            f" --cluster_time_out={CLUSTER_TIME_OUT} python -m mathlora.cli")
