# Shared names of the graph: every path a rule produces or consumes is defined here once.
# Each run (config run_name) has its own results/, logs/ and benchmarks/ folder, so the CPU default
# and the Ascend run live side by side in one checkout and never read each other's outputs.
import json
import os
import re
from pathlib import Path

from mathlora.package.unpack import natural_key
from mathlora.settings import (BaseSettings, ConversationSettings, EvaluationSettings, MathSettings,
                               MindrecordSettings, PredictSettings, PrepareSettings, RuleSettings,
                               SplitSettings, SquadSettings, SquadSynthSettings, SynthSettings,
                               ThresholdSettings, TokenizerSettings, WorldSettings)
from snakemake.exceptions import WorkflowError

RUN = config["run_name"]
RESULTS = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCHMARKS = f"benchmarks/{RUN}"
MSRUN_LOGS = f"{LOGS}/finetune/msrun"  # the fine-tuning workers' own logs (msrun --log_dir)
MINDFORMERS_LOGS = f"{LOGS}/mindformers"  # MindFormers' own logs and stray ./output files


def logged(name):
    """The log file of a job (``name`` may hold wildcards)."""
    return f"{LOGS}/{name}.log"


def timed(name):
    """The benchmark file of a job (``name`` may hold wildcards)."""
    return f"{BENCHMARKS}/{name}.tsv"


# Software of every rule (for --software-deployment-method conda; make uses .venv instead).
MATHLORA_ENV = "../envs/mathlora.yaml"

CHECKPOINTS = list(range(1, config["finetune"]["checkpoints"] + 1))
MODELS = ["base"] + [f"ckpt{k}" for k in CHECKPOINTS]

# data
TRAIN_JSON = config["data"]["train_json"]
TRAIN_JSONL = f"{RESULTS}/data/train.jsonl"
PREPARE_JSON = f"{RESULTS}/data/prepare.json"
DEV_JSONL = f"{RESULTS}/data/dev.jsonl"  # held out; every choice of the graph reads it
TEST_JSONL = f"{RESULTS}/data/test.jsonl"  # held out; read only for reporting
SPLIT_JSON = f"{RESULTS}/data/split.json"
CONVERSATION_JSON = f"{RESULTS}/data/train.conversation.json"
CONVERSATION_REPORT = f"{RESULTS}/data/conversation.json"
TOKENIZER_MODEL = config["tokenizer"]["path"]
TOKENIZER_JSON = f"{RESULTS}/tokenizer/tokenizer.json"
TRAIN_MINDRECORD = f"{RESULTS}/data/train.mindrecord"
TRAIN_MINDRECORD_INDEX = f"{TRAIN_MINDRECORD}.db"  # MindRecord's own index beside it
MINDRECORD_JSON = f"{RESULTS}/data/mindrecord.json"
SQUAD_DEV_JSON = config["squad"]["dev_json"]
WORLD_JSONL = f"{RESULTS}/data/world.jsonl"  # the tiny base's pretraining corpus (regenerated)
WORLD_JSON = f"{RESULTS}/data/world.json"

# model
FINETUNE_YAML = f"{RESULTS}/model/finetune.yaml"
PREDICT_YAML = f"{RESULTS}/model/predict.yaml"  # what the shipped run_llama3_test.py reads
BASE_CKPT = config["base"]["checkpoint"]
# the tiny base's provenance report (written by pretraining, shipped beside a shipped base)
BASE_JSON = config["base"].get("report")
HAS_WORLD = "corpus" in config["base"]  # a tiny base with its own pretraining corpus
# make base-model's reading check: passages of a split of their own (never the reported SQuAD set),
# and the new base's F1/EM on them, shipped beside its report
BASE_CHECK_SQUAD_JSON = f"{RESULTS}/data/base-check-squad.json"
BASE_READING_JSON = re.sub(r"\.json$", "", BASE_JSON) + ".reading.json" if BASE_JSON else None
BASE_LOSS_PNG = f"{RESULTS}/model/base_loss.png"
BASE_WORKDIR = f"{RESULTS}/model/base.run"  # MindFormers output_dir of the pretraining run
FINETUNE_DIR = f"{RESULTS}/finetune"
FINETUNE_WORKDIR = f"{FINETUNE_DIR}/output"  # MindFormers output_dir of the fine-tuning run
FINETUNE_JSON = f"{RESULTS}/finetune/train.json"
LOSS_PNG = f"{RESULTS}/finetune/loss.png"
LORA_CKPT = f"{RESULTS}/finetune/checkpoints/lora{{k}}.ckpt"
MERGED_CKPT = f"{RESULTS}/merged/ckpt{{k}}.ckpt"
MERGE_JSON = f"{RESULTS}/merged/ckpt{{k}}.json"
PARAMS_JSON = f"{RESULTS}/params.json"

# evaluation ({model} is "base" or "ckpt<k>")
PREDICTIONS_JSONL = f"{RESULTS}/eval/{{model}}/predictions.jsonl"
RESULT_NPY = f"{RESULTS}/eval/{{model}}/result_npy.npy"
PREDICT_JSON = f"{RESULTS}/eval/{{model}}/predict.json"
MATH_JSON = f"{RESULTS}/eval/{{model}}/math.json"
MATH_PNG = f"{RESULTS}/eval/{{model}}/math.png"
SQUAD_JSON = f"{RESULTS}/eval/{{model}}/squad.json"
# the same problems in the fine-tuning template (a diagnostic beside the entry's prompt)
TEMPLATE_EVAL = f"{RESULTS}/eval/{{model}}/template"
TEMPLATE_PREDICTIONS_JSONL = f"{TEMPLATE_EVAL}/predictions.jsonl"
TEMPLATE_PREDICT_JSON = f"{TEMPLATE_EVAL}/predict.json"
TEMPLATE_RESULT_NPY = f"{TEMPLATE_EVAL}/result_npy.npy"
TEMPLATE_MATH_JSON = f"{TEMPLATE_EVAL}/math.json"
TEMPLATE_MATH_PNG = f"{TEMPLATE_EVAL}/math.png"
# the same models on the development set: what every choice reads (no template diagnostic there)
DEV_EVAL = f"{RESULTS}/eval/{{model}}/dev"
DEV_PREDICTIONS_JSONL = f"{DEV_EVAL}/predictions.jsonl"
DEV_PREDICT_JSON = f"{DEV_EVAL}/predict.json"
DEV_RESULT_NPY = f"{DEV_EVAL}/result_npy.npy"
DEV_MATH_JSON = f"{DEV_EVAL}/math.json"
DEV_MATH_PNG = f"{DEV_EVAL}/math.png"
HELD_OUT = {"dev": DEV_JSONL, "test": TEST_JSONL}
PROMPT = PredictSettings.from_config(config).prompt  # the math prompt variant on dev and test
# the held-out sets the tiny base's world leaves out (the shipped base's: as it was built)
WORLD_HELD_OUT = config["base"].get("corpus", {}).get("held_out", ["dev", "test"])
CONTAMINATION_JSON = f"{RESULTS}/eval/contamination.{{split}}.json"
# the shipped run_llama3_test.py, run here on the last checkpoint and compared with `predict`
ENTRY_SCRIPT_DIR = f"{RESULTS}/eval/entry_script"
ENTRY_SCRIPT_JSON = f"{ENTRY_SCRIPT_DIR}/entry_script.json"
ENTRY_SCRIPT_WORKDIR = f"{ENTRY_SCRIPT_DIR}/work"
SUMMARY_JSON = f"{RESULTS}/summary.json"
TRAJECTORY_PNG = f"{RESULTS}/trajectory.png"

# package
SUBMISSION_FOLDER = "submission"  # shipped verbatim in the zip's submission/ folder
SUBMISSION_FILES = sorted(
    str(p) for p in Path(SUBMISSION_FOLDER).glob("*") if p.is_file() and not p.name.startswith(".")
)
ENTRY_SCRIPT = f"{SUBMISSION_FOLDER}/run_llama3_test.py"  # the entry's own evaluation script
REPORT_MD = f"{RESULTS}/submission/REPORT.md"
SUBMISSION_ZIP = f"{RESULTS}/submission/{RUN}.zip"
SUBMISSION_VERIFY = f"{RESULTS}/submission/{RUN}.verify.json"

# judge: a submission re-evaluated as an outsider would; unless configured, the graph's own zip
# (or, when the zip only links its checkpoints, the graph's merged checkpoints)
JUDGE_SUBMISSION = config["evaluate"]["judge_submission"]
JUDGE_OWN_CHECKPOINTS = not JUDGE_SUBMISSION and config["submission"]["checkpoints"] == "links"
JUDGE_SOURCE = JUDGE_SUBMISSION or (f"{RESULTS}/merged" if JUDGE_OWN_CHECKPOINTS else SUBMISSION_ZIP)
JUDGE_DIR = f"{RESULTS}/judge"
JUDGE_UNPACKED = f"{JUDGE_DIR}/unpacked"
JUDGE_UNPACK_JSON = f"{JUDGE_DIR}/unpack.json"
JUDGE_WEIGHTS = f"{JUDGE_DIR}/weights/{{model}}.ckpt"
JUDGE_WEIGHTS_JSON = f"{JUDGE_DIR}/weights/{{model}}.json"
JUDGE_EVAL = f"{JUDGE_DIR}/eval/{{model}}"
JUDGE_PREDICTIONS_JSONL = f"{JUDGE_EVAL}/predictions.jsonl"
JUDGE_RESULT_NPY = f"{JUDGE_EVAL}/result_npy.npy"
JUDGE_PREDICT_JSON = f"{JUDGE_EVAL}/predict.json"
JUDGE_MATH_JSON = f"{JUDGE_EVAL}/math.json"
JUDGE_MATH_PNG = f"{JUDGE_EVAL}/math.png"
JUDGE_SQUAD_JSON = f"{JUDGE_EVAL}/squad.json"
JUDGE_TEST = config["evaluate"]["judge_test"] or TEST_JSONL
JUDGE_BASE = ["base"] if config["squad"]["thresholds"] == "relative" else []
JUDGE_SUMMARY_JSON = f"{JUDGE_DIR}/summary.json"
JUDGE_TRAJECTORY_PNG = f"{JUDGE_DIR}/trajectory.png"

# leaderboard: every team of a contest folder (evaluate.contest) one {team}
LB_ENTRY = f"{config['evaluate']['contest']}/{{team}}"
LB_DIR = f"{RESULTS}/leaderboard"
LB_TEAM = f"{LB_DIR}/teams/{{team}}"
LB_UNPACKED = f"{LB_TEAM}/unpacked"
LB_INTAKE_JSON = f"{LB_TEAM}/intake.json"
LB_PARAMS_JSON = f"{LB_TEAM}/params.json"
LB_EVALUATE_JSON = f"{LB_TEAM}/evaluate.json"
LB_SUMMARY_JSON = f"{LB_TEAM}/summary.json"
LEADERBOARD_JSON = f"{LB_DIR}/leaderboard.json"
LEADERBOARD_MD = f"{LB_DIR}/LEADERBOARD.md"
LEADERBOARD_HTML = f"{LB_DIR}/leaderboard.html"


# Files a run takes from outside (config key -> path). A real run stops at once when one is missing;
# `--config missing_inputs=plan` puts stand-in rules in their place (they fail if run), so that a
# dry run shows the whole plan on a machine without them.
OUTSIDE_INPUTS = {key: path for key, path, used in (
    ("data.train_json", config["data"]["train_json"], config["data"]["source"] == "file"),
    ("tokenizer.path", config["tokenizer"]["path"], config["tokenizer"]["source"] == "file"),
    ("squad.dev_json", config["squad"]["dev_json"], config["squad"]["source"] == "file"),
    ("base.checkpoint", config["base"]["checkpoint"], config["base"]["source"] == "file"),
    ("base.report", BASE_JSON, config["base"]["source"] == "file" and BASE_JSON is not None),
    ("evaluate.judge_submission", JUDGE_SUBMISSION, bool(JUDGE_SUBMISSION)),
    ("evaluate.judge_test", config["evaluate"]["judge_test"], bool(config["evaluate"]["judge_test"])),
) if used}
MISSING_INPUTS = {key: path for key, path in OUTSIDE_INPUTS.items() if not os.path.exists(path)}
if MISSING_INPUTS and config["missing_inputs"] == "fail":
    raise WorkflowError(
        f"run {RUN!r} is missing {len(MISSING_INPUTS)} input file(s):\n"
        + "\n".join(f"  {path} (config key {key})" for key, path in MISSING_INPUTS.items())
        + "\nput them there, point the config keys elsewhere, or show the plan without them: "
        "--config missing_inputs=plan --dry-run")

wildcard_constraints:
    k=r"\d+",
    model=r"base|ckpt\d+",
    split=r"dev|test",


def stage_settings(kind, **fixed):
    """A stage's config section as its one JSON argument: only the keys it reads (a rule's params
    are its rerun trigger), checked and completed by the schema; ``fixed`` overrides keys."""
    return kind.from_config(config, source="config", **fixed).to_json()


def judging_settings():
    """The evaluate keys a judged checkpoint's predict, math and SQuAD read, as one JSON argument."""
    section = {}
    for kind in (PredictSettings, MathSettings, SquadSettings):
        section.update(json.loads(stage_settings(kind)))
    return json.dumps({key: value for key, value in section.items() if value is not None},
                      sort_keys=True)


def math_sets(*sets):
    """The ``--math`` arguments of ``mathlora evaluate``, as a params function: per set, the input
    key of its problems, its prompt variant and the prefix of its three outputs' keys."""
    def arguments(wildcards, input, output):
        return " ".join(f"--math {input[test]} {prompt} {output[f'{prefix}jsonl']}"
                        f" {output[f'{prefix}npy']} {output[f'{prefix}json']}"
                        for test, prompt, prefix in sets)

    return arguments


def model_checkpoint(wildcards):
    """Full weights of a model under evaluation: the base, or merged LoRA checkpoint k."""
    if wildcards.model == "base":
        return BASE_CKPT
    return MERGED_CKPT.format(k=wildcards.model.removeprefix("ckpt"))


def reported(path, category, caption="json_report.rst", **labels):
    """An output shown in the `snakemake --report` HTML, with its caption from workflow/report/."""
    return report(path, caption=f"../report/{caption}", category=category, labels=labels or None)


def unpacked(name):
    """A file the unpack step took out of the submission (known once it has run)."""
    return Path(checkpoints.judge_unpack.get().output.folder) / name


def judged_models(wildcards=None):
    """base (for relative SQuAD marks), then ckpt1..N of the submission."""
    found = sorted((p.stem for p in unpacked("").glob("ckpt*.ckpt")), key=natural_key)
    return JUDGE_BASE + found


def judged_links():
    """For a folder of downloaded checkpoints, the links.yaml it came with (its files are then the
    ones the links name, in their order); other folders are taken in natural name order."""
    if not (JUDGE_SUBMISSION and os.path.isdir(JUDGE_SUBMISSION)):
        return ""
    for name in ("links.yaml", "submission/links.yaml"):
        path = os.path.join(JUDGE_SUBMISSION, name)
        if os.path.isfile(path):
            return f"--links {path}"
    return ""


def submission_file(name, fallback):
    """The submission's own yaml or params report, when it ships one, else the graph's."""
    path = unpacked(name)
    return str(path) if path.is_file() else fallback


def judged_weights(wildcards):
    if wildcards.model == "base":
        return BASE_CKPT
    return JUDGE_WEIGHTS.format(model=wildcards.model)


def contamination_inputs(wildcards):
    """The training set and one held-out set, and for a tiny base its corpus and report."""
    inputs = {"train": TRAIN_JSONL, "test": HELD_OUT[wildcards.split]}
    if HAS_WORLD:
        inputs.update(corpus=WORLD_JSONL, report=BASE_JSON)
    return inputs


def graph_files(kind):
    """The log (or benchmark) files of the submission graph's jobs, wildcards expanded.

    The bundle takes these and no other file of the run's folders: judging, ranking a contest, the
    base-model build, the stand-ins of missing inputs and the bundle itself are not part of the
    submission's graph.
    """
    outside = ("bundle", "base_model", "base_check_squad", "base_reading", "all", "submission", "data",
               "models", "evaluation")
    found = []
    for step in workflow.rules:
        if step.name.startswith(("judge", "leaderboard", "missing_input_")) or step.name in outside:
            continue
        patterns = [str(p) for p in step.log] if kind == "log" else (
            [str(step.benchmark)] if step.benchmark else [])
        for pattern in patterns:  # "{k,\\d+}" -> "{k}": the constraint is not the name
            found += expand(re.sub(r"\{(\w+),[^}]*\}", r"{\1}", pattern), model=MODELS, k=CHECKPOINTS,
                            split=HELD_OUT)
    return sorted(set(found))
