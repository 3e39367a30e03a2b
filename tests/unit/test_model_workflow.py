"""Dry runs of the model rules: the Ascend entry's msrun command, a 2 x 4 scale-out, the cluster profile.

Each dry run plans the graph in a copy of the repository (the files a clone has) with empty
placeholders for the organisers' inputs; nothing is trained. Targets go after ``--`` since
``--configfile`` takes several values.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mathlora.errors import ConfigError
from mathlora.model.render import load_settings
from mathlora.model.workflow import check_launcher, launch_id, model_settings, training_command

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ASCEND_INPUTS = ("resources/data/train.json", "resources/tokenizer/tokenizer.model",
                 "resources/squad/dev-v1.1.json", "resources/model/llama3-8B.ckpt")
A = "results/llama3-8b-lora-r8-wq-wv"  # the Ascend run's folders (config run_name)
L = "logs/llama3-8b-lora-r8-wq-wv"
MERGED = [f"{A}/merged/ckpt{k}.ckpt" for k in range(1, 6)]
# MindFormers' msrun_launcher.sh "<script>" 4 (what the entry ran), layout spelled out.
ENTRY_MSRUN = ("env HCCL_BUFFSIZE=2 MATHLORA_LAUNCH_ID=config-<id>"
               " msrun --worker_num=4 --local_worker_num=4 --master_addr=127.0.0.1"
               f" --master_port=8118 --node_rank=0 --log_dir={L}/finetune/msrun --join=True"
               " --cluster_time_out=7200"
               f" python -m mathlora.cli finetune --yaml {A}/model/finetune.yaml"
               f" --base resources/model/llama3-8B.ckpt --dataset {A}/data/train.mindrecord"
               f" --workdir {A}/finetune/output --checkpoints 5"
               f" --ckpt-out '{A}/finetune/checkpoints/lora{{k}}.ckpt'"
               f" --report {A}/finetune/train.json --plot {A}/finetune/loss.png"
               f" > {L}/finetune/finetune.log 2>&1")


def copy_repository(dest: Path) -> Path:
    """The repository's files as a fresh clone has them (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith("tests/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A fresh clone plus placeholder Ascend inputs."""
    dest = copy_repository(tmp_path_factory.mktemp("repo"))
    for name in ASCEND_INPUTS:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(b"")
    return dest


@pytest.fixture(scope="module")
def bare_clone(tmp_path_factory) -> Path:
    """A fresh clone without the organisers' files, where the CPU default has already run."""
    dest = copy_repository(tmp_path_factory.mktemp("bare"))
    for name in ("results/tiny-cpu/submission/tiny-cpu.zip", "results/tiny-cpu/summary.json",
                 "results/tiny-cpu/merged/ckpt1.ckpt", "results/tiny-cpu/model/finetune.yaml"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(b"x")
    return dest


def test_a_run_missing_its_inputs_stops_naming_each_file_and_key(bare_clone):
    done = dry_run(bare_clone, "--configfile", "config/ascend.yaml", "--", "submission")
    assert done.returncode != 0
    text = done.stdout + done.stderr
    for key, path in (("data.train_json", "resources/data/train.json"),
                      ("tokenizer.path", "resources/tokenizer/tokenizer.model"),
                      ("squad.dev_json", "resources/squad/dev-v1.1.json"),
                      ("base.checkpoint", "resources/model/llama3-8B.ckpt")):
        assert f"{path} (config key {key})" in text
    assert "--config missing_inputs=plan" in text


def test_dry_run_anywhere_shows_the_whole_ascend_run(bare_clone):
    """The README's command: every job of the Ascend run, on a clone without the organisers' files
    and beside the CPU default's outputs, none of which it reads."""
    done = dry_run(bare_clone, "--configfile", "config/ascend.yaml", "--config", "missing_inputs=plan",
                   "--", "submission", "judge")
    assert done.returncode == 0, done.stderr[-3000:]
    commands = shell_commands(done.stdout)
    assert ENTRY_MSRUN in commands
    assert sum(c.startswith("mathlora merge ") for c in commands) == 5
    evaluations = [c for c in commands if c.startswith("mathlora evaluate ")]
    # base + 5 checkpoints, each one job: the entry's prompt on dev and on test, (the diagnostic)
    # the fine-tuning template on test only, and SQuAD (the judge's follow its unpack checkpoint)
    ours = [c for c in evaluations if "/data/dev.jsonl " in c]
    assert len(ours) == 6 and len(evaluations) == 6
    assert all('"prompt"' not in c and c.count(" --math ") == 3 and " --squad " in c for c in ours)
    for c in ours:
        sets = re.findall(r" --math (\S+) (\S+) ", c)
        assert sets == [(f"{A}/data/dev.jsonl", "entry"), (f"{A}/data/test.jsonl", "entry"),
                        (f"{A}/data/test.jsonl", "finetune")], sets
    assert any(c.startswith(f"mathlora unpack {A}/merged ") for c in commands)  # the judge
    assert any("mathlora bundle " in c for c in commands)
    assert not [c for c in commands if "results/tiny-cpu" in c]
    # the 8B run's config stands alone: nothing of the tiny base's (its corpus, its report) is planned
    assert not [c for c in commands if "resources/base" in c or c.startswith("mathlora world")]
    assert "missing input" in done.stdout  # the stand-ins are planned, and would fail if run


def dry_run(clone: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(clone / "src"), "LOG_MF_PATH": str(clone / "logs" / "mf")}
    return subprocess.run([str(BIN / "snakemake"), "-n", "-p", *args], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=300)


def shell_commands(output: str) -> list[str]:
    """The planned commands, the launch id (a config hash) of msrun's shown as ``config-<id>``."""
    return [re.sub(r"MATHLORA_LAUNCH_ID=config-[0-9a-f]{16} ", "MATHLORA_LAUNCH_ID=config-<id> ",
                   line.removeprefix("Shell command: "))
            for line in output.splitlines() if line.startswith("Shell command: ")]


def launch_ids(output: str) -> set[str]:
    return set(re.findall(r"MATHLORA_LAUNCH_ID=(config-[0-9a-f]{16}) ", output))


def job_block(output: str, rule: str) -> str:
    match = re.search(rf"^rule {rule}:\n((?:    .*\n)+)", output, flags=re.M)
    assert match, f"no job of rule {rule} in the dry run"
    return match.group(1)


def test_ascend_dry_run_shows_msrun_yaml_and_merges(clone):
    done = dry_run(clone, "--configfile", "config/ascend.yaml", "--", *MERGED, f"{A}/params.json")
    assert done.returncode == 0, done.stderr[-3000:]
    commands = shell_commands(done.stdout)
    assert ENTRY_MSRUN in commands
    render = [c for c in commands if c.startswith("mathlora render-yaml")]
    assert len(render) == 1 and f"--out {A}/model/finetune.yaml" in render[0]
    assert "--load-checkpoint resources/model/llama3-8B.ckpt" in render[0]
    for k in range(1, 6):
        assert (f"mathlora merge --yaml {A}/model/finetune.yaml --lora "
                f"{A}/finetune/checkpoints/lora{k}.ckpt --workdir {A}/finetune/output "
                f"--train-json {A}/finetune/train.json "
                f"--k {k} --out {A}/merged/ckpt{k}.ckpt --report {A}/merged/ckpt{k}.json"
                f" > {L}/merge/ckpt{k}.log 2>&1") in commands
    assert f"mathlora params --yaml {A}/model/finetune.yaml --out {A}/params.json" in " ".join(commands)
    assert not [c for c in commands if c.startswith("mathlora base")]  # the 8B base is given
    assert "devices=4" in job_block(done.stdout, "finetune")


def test_default_config_trains_in_one_process(clone):
    done = dry_run(clone, "--", "results/tiny-cpu/merged/ckpt1.ckpt")
    assert done.returncode == 0, done.stderr[-3000:]
    commands = shell_commands(done.stdout)
    finetune = [c for c in commands if "mathlora finetune" in c]
    assert len(finetune) == 1 and finetune[0].startswith("mathlora finetune") and "msrun" not in finetune[0]
    # The default fine-tunes the shipped base; only make base-model pretrains one.
    assert not any(c.startswith("mathlora base ") for c in commands)
    assert "--base resources/base/tiny-base.ckpt" in finetune[0]


def test_make_base_model_checks_reading_on_a_split_of_its_own(clone, tmp_path):
    """Bases differ by their training seed and only some read; the check that tells which reads a
    generated split of its own and writes beside the base's report, never the reported SQuAD set."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("base:\n  training_seed: 31\n")
    done = dry_run(clone, "--configfile", "config/config.yaml", "config/base-model.yaml", str(seed),
                   "--forcerun", "base", "--", "base_model")
    assert done.returncode == 0, done.stderr[-3000:]
    commands = shell_commands(done.stdout)
    base = [c for c in commands if c.startswith("mathlora base ")]
    assert len(base) == 1 and '"training_seed": 31' in base[0] and '"seed": 20240705' in base[0]
    synth = [c for c in commands if c.startswith("mathlora squad synth ")]
    assert synth == ["mathlora squad synth --split base-check --settings '{\"dev\": 120, \"seed\": 20240705}'"
                     " --out results/tiny-base/data/base-check-squad.json"
                     " > logs/tiny-base/base_check_squad/base_check_squad.log 2>&1"]
    check = [c for c in commands if c.startswith("mathlora squad eval ")]
    assert len(check) == 1
    assert check[0].startswith("mathlora squad eval --dev results/tiny-base/data/base-check-squad.json ")
    assert " --checkpoint resources/base/tiny-base.ckpt " in check[0]
    assert " --out resources/base/tiny-base.reading.json " in check[0]
    assert "dev-v1.1.json" not in " ".join(commands)


def test_scale_out_two_machines(clone, tmp_path):
    done = dry_run(clone, "--configfile", "config/ascend.yaml", "config/ascend-2x4.yaml", "--", MERGED[0])
    assert done.returncode == 0, done.stderr[-3000:]
    msrun = [c for c in shell_commands(done.stdout)
             if c.startswith("env HCCL_BUFFSIZE=2 MATHLORA_LAUNCH_ID=config-<id> msrun ")]
    assert len(msrun) == 1
    for flag in ("--worker_num=8", "--local_worker_num=4", "--master_addr=192.168.1.10", "--node_rank=0"):
        assert f" {flag} " in f" {msrun[0]} "
    render = [c for c in shell_commands(done.stdout) if c.startswith("mathlora render-yaml")][0]
    assert '"parallel": {"data_parallel": 2, "model_parallel": 4}' in render
    # The second machine: the same overlay with node_rank 1.
    second = tmp_path / "node1.yaml"
    second.write_text((clone / "config" / "ascend-2x4.yaml").read_text().replace("node_rank: 0", "node_rank: 1"))
    done = dry_run(clone, "--configfile", "config/ascend.yaml", str(second), "--", MERGED[0])
    assert done.returncode == 0, done.stderr[-3000:]
    assert " --node_rank=1 " in done.stdout
    # A layout that does not add up is refused before anything runs.
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  launcher: {type: msrun, worker_num: 8, local_worker_num: 4, "
                   "master_addr: 10.0.0.1, master_port: 8118, node_rank: 0}\n")
    done = dry_run(clone, "--configfile", "config/ascend.yaml", str(bad), "--", MERGED[0])
    assert done.returncode != 0
    assert "expected data_parallel x model_parallel = 1 x 4 = 4" in done.stdout + done.stderr


def test_slurm_profile_declares_training_resources(clone):
    args = ["--profile", "workflow/profiles/slurm"]
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        # Without the plugin the profile's executor cannot be chosen; the plan is the same.
        args += ["--executor", "local"]
    done = dry_run(clone, *args, "--configfile", "config/ascend.yaml", "--", MERGED[0])
    assert done.returncode == 0, done.stderr[-3000:]
    block = job_block(done.stdout, "finetune")
    resources = dict(item.split("=", 1) for item in
                     re.search(r"resources: (.*)", block).group(1).split(", "))
    assert resources["devices"] == "4"            # NPUs per machine = local_worker_num
    assert resources["mem_mb"] == "256000" and resources["runtime"] == "480"
    assert resources["slurm_partition"] == "ascend" and resources["slurm_extra"] == "--gres=npu:4"
    assert resources["cpus_per_task"] == "32"


def test_slurm_profile_names_only_rules_of_the_workflow(bare_clone):
    """A renamed rule would silently lose its NPU and memory in the profile: every rule the profile
    sizes exists, in the default's graph, the base's rebuild or the 8B run's."""
    import yaml

    profile = yaml.safe_load((bare_clone / "workflow/profiles/slurm/config.yaml").read_text())
    rules = set()
    for config in ([], ["--configfile", "config/config.yaml", "config/base-model.yaml"],
                   ["--configfile", "config/ascend.yaml", "--config", "missing_inputs=plan"]):
        done = dry_run(bare_clone, "--list-rules", *config)
        assert done.returncode == 0, done.stderr[-3000:]
        rules |= set(done.stdout.split())
    assert {"finetune", "merge", "evaluate_model", "judge_evaluate"} <= set(profile["set-resources"])
    assert set(profile["set-resources"]) - rules == set()


@pytest.mark.parametrize("launcher, parallel, message", [
    ({"type": "single"}, {"data_parallel": 1, "model_parallel": 2}, "needs finetune.launcher.type: msrun"),
    ({"type": "msrun", "worker_num": 4}, {"data_parallel": 1, "model_parallel": 4}, "msrun needs"),
    ({"type": "msrun", "worker_num": 6, "local_worker_num": 4, "master_addr": "a", "master_port": 1,
      "node_rank": 0}, {"data_parallel": 1, "model_parallel": 6}, "not a multiple of local_worker_num 4"),
    ({"type": "msrun", "worker_num": 8, "local_worker_num": 4, "master_addr": "a", "master_port": 1,
      "node_rank": 2}, {"data_parallel": 2, "model_parallel": 4}, r"node_rank: 2; expected 0..1"),
])
def test_launcher_layout_errors(launcher, parallel, message):
    with pytest.raises(ConfigError, match=message):
        check_launcher({"launcher": launcher, "parallel": parallel})


def test_training_command_single_and_msrun():
    single = {"finetune": {"launcher": {"type": "single"}, "parallel": {"data_parallel": 1, "model_parallel": 1}}}
    assert training_command(single, log_dir="L") == "mathlora"
    two = {"finetune": {"launcher": {"type": "msrun", "worker_num": 2, "local_worker_num": 2,
                                     "master_addr": "127.0.0.1", "master_port": 8119, "node_rank": 0},
                        "parallel": {"data_parallel": 2, "model_parallel": 1}}}
    # msrun runs `python <script> ...` in every worker: the CLI goes in as a module.
    assert training_command(two, log_dir="L") == (
        f"env HCCL_BUFFSIZE=2 MATHLORA_LAUNCH_ID={launch_id(two)} "
        "msrun --worker_num=2 --local_worker_num=2 --master_addr=127.0.0.1 "
        "--master_port=8119 --node_rank=0 "
        "--log_dir=L --join=True --cluster_time_out=7200 python -m mathlora.cli")


def test_msrun_on_cpu_is_refused_with_the_reason(tmp_path):
    from _model_helpers import settings, write_tokenizer

    from mathlora.model import render
    from mathlora.tokenizer.llama3 import read_vocab

    tok = write_tokenizer(tmp_path / "tok.model")
    two = settings(finetune__parallel={"data_parallel": 2, "model_parallel": 1},
                   finetune__launcher={"type": "msrun", "worker_num": 2, "local_worker_num": 2,
                                       "master_addr": "127.0.0.1", "master_port": 8118, "node_rank": 0})
    with pytest.raises(ConfigError, match="msrun cannot train on device cpu"):
        render.render_values(two, mode="finetune", vocab=read_vocab(tok), tokenizer=tok,
                             rows=40, dataset="d", load_checkpoint="b", output_dir="o", config_name="t")


def test_yaml_settings_change_only_with_what_the_yamls_hold():
    """A rule's params trigger reruns: judging a bundle or changing the comparison rule must not
    re-render the yamls (and so re-train); a generation length must."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    before = model_settings(config)
    for key, value in (("judge_submission", "team.zip"), ("rel_tol", 0.5), ("prompt", "report"),
                       ("squad_max_new_tokens", 3)):
        assert model_settings({**config, "evaluate": {**config["evaluate"], key: value}}) == before, key
    longer = {**config, "evaluate": {**config["evaluate"], "max_new_tokens": 99}}
    assert model_settings(longer) != before
    assert load_settings(None, before)["evaluate"]["max_new_tokens"] == 24  # what render-yaml reads


def test_ascend_2x4_dry_run_gives_both_machines_one_launch_id(clone, tmp_path):
    """Each machine plans its own msrun command (its node_rank); the launch id the workers compare
    rank 0's decision with must be the same on both, and another config's must differ."""
    first = dry_run(clone, "--configfile", "config/ascend.yaml", "config/ascend-2x4.yaml", "--", MERGED[0])
    assert first.returncode == 0, first.stderr[-3000:]
    second_overlay = tmp_path / "node1.yaml"
    second_overlay.write_text((clone / "config" / "ascend-2x4.yaml").read_text()
                              .replace("node_rank: 0", "node_rank: 1"))
    second = dry_run(clone, "--configfile", "config/ascend.yaml", str(second_overlay), "--", MERGED[0])
    assert second.returncode == 0, second.stderr[-3000:]
    assert " --node_rank=0 " in first.stdout and " --node_rank=1 " in second.stdout
    assert len(launch_ids(first.stdout)) == 1
    assert launch_ids(first.stdout) == launch_ids(second.stdout)
    one_machine = dry_run(clone, "--configfile", "config/ascend.yaml", "--", MERGED[0])
    assert launch_ids(one_machine.stdout) and launch_ids(one_machine.stdout) != launch_ids(first.stdout)


# Rules holding the 8B model: host memory (MB, at least), NPUs; time (minutes, at least).
EIGHT_B_RULES = {"merge": (64000, None, 60), "evaluate_model": (64000, "1", 600),
                 "entry_script": (64000, "1", 60)}


def test_ascend_slurm_profile_sizes_every_8b_rule(bare_clone):
    args = ["--profile", "workflow/profiles/slurm"]
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        args += ["--executor", "local"]
    done = dry_run(bare_clone, *args, "--configfile", "config/ascend.yaml", "--config",
                   "missing_inputs=plan", "--", "submission")
    assert done.returncode == 0, done.stderr[-3000:]
    for rule, (memory, npus, minutes) in EIGHT_B_RULES.items():
        block = job_block(done.stdout, rule)
        resources = dict(item.split("=", 1) for item in
                         re.search(r"resources: (.*)", block).group(1).split(", "))
        assert int(resources["mem_mb"]) >= memory, (rule, resources)
        assert int(resources["runtime"]) >= minutes, (rule, resources)
        if npus is None:
            assert "npu" not in resources.get("slurm_extra", ""), (rule, resources)
        else:
            assert resources["devices"] == npus and resources["slurm_extra"] == f"--gres=npu:{npus}", \
                (rule, resources)


def test_ascend_squad_runs_at_the_organisers_length(bare_clone):
    """Every SQuAD job of the 8B run (the judge's is the same rule) decodes at 8192 positions, the
    organisers' squad8192, so no passage is left without room; the CPU default keeps its own."""
    done = dry_run(bare_clone, "--configfile", "config/ascend.yaml", "--config", "missing_inputs=plan",
                   "--", "submission", "judge")
    assert done.returncode == 0, done.stderr[-3000:]
    squad = [c for c in shell_commands(done.stdout) if c.startswith("mathlora evaluate ")]
    # base + 5 checkpoints (the judge's follow its unpack checkpoint)
    assert len(squad) == 6 and all(" --squad " in c for c in squad)
    assert all('"squad_max_length": 8192' in c for c in squad), squad[0]
    default = dry_run(bare_clone, "--", "results/tiny-cpu/eval/base/squad.json")
    assert default.returncode == 0, default.stderr[-3000:]
    tiny = [c for c in shell_commands(default.stdout) if c.startswith("mathlora evaluate ")]
    assert tiny and all("squad_max_length" not in c for c in tiny)
