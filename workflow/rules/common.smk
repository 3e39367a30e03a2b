# Shared names of the graph: every path a rule produces or consumes is defined here once.
import os

from mathlora.artifacts import CONFIG_SHA256_ENV, config_sha256

# Provenance of every artifact carries the hash of the configuration that made it.
os.environ[CONFIG_SHA256_ENV] = config_sha256(config)
# MindFormers writes its own logs and stray files under ./output unless told otherwise; keep them
# inside the project (whatever the calling environment says), whose folder the bundle replaces by a
# placeholder in every log it ships.
os.environ.update(
    LOG_MF_PATH=os.path.abspath("logs/mindformers"),
    LOCAL_DEFAULT_PATH=os.path.abspath("logs/mindformers/output"),
)

# Software of every rule (for --software-deployment-method conda; make uses .venv instead).
MATHLORA_ENV = "../envs/mathlora.yaml"

CHECKPOINTS = list(range(1, config["finetune"]["checkpoints"] + 1))
MODELS = ["base"] + [f"ckpt{k}" for k in CHECKPOINTS]

# data
TRAIN_JSON = config["data"]["train_json"]
TRAIN_JSONL = "results/data/train.jsonl"
PREPARE_JSON = "results/data/prepare.json"
TEST_JSONL = "results/data/test.jsonl"
SPLIT_JSON = "results/data/split.json"
CONVERSATION_JSON = "results/data/train.conversation.json"
TOKENIZER_MODEL = config["tokenizer"]["path"]
TOKENIZER_JSON = "results/tokenizer/tokenizer.json"
TRAIN_MINDRECORD = "results/data/train.mindrecord"
MINDRECORD_JSON = "results/data/mindrecord.json"
SQUAD_DEV_JSON = config["squad"]["dev_json"]
SQUAD_TRAIN_JSON = "resources/synth/squad/train-v1.1.json"  # synth only: base pretraining text

# model
FINETUNE_YAML = "results/model/finetune.yaml"
BASE_CKPT = config["base"]["checkpoint"]
BASE_JSON = "results/model/base.json"
BASE_LOSS_PNG = "results/model/base_loss.png"
BASE_WORKDIR = "results/model/base.run"  # MindFormers output_dir of the pretraining run
FINETUNE_DIR = "results/finetune"
FINETUNE_JSON = "results/finetune/train.json"
LOSS_PNG = "results/finetune/loss.png"
LORA_CKPT = "results/finetune/checkpoints/lora{k}.ckpt"
MERGED_CKPT = "results/merged/ckpt{k}.ckpt"
MERGE_JSON = "results/merged/ckpt{k}.json"
PARAMS_JSON = "results/params.json"

# evaluation ({model} is "base" or "ckpt<k>")
PREDICTIONS_JSONL = "results/eval/{model}/predictions.jsonl"
RESULT_NPY = "results/eval/{model}/result_npy.npy"
PREDICT_JSON = "results/eval/{model}/predict.json"
MATH_JSON = "results/eval/{model}/math.json"
MATH_PNG = "results/eval/{model}/math.png"
SQUAD_JSON = "results/eval/{model}/squad.json"
CONTAMINATION_JSON = "results/eval/contamination.json"
SUMMARY_JSON = "results/summary.json"
# judge: a submission re-evaluated as an outsider would (the graph's own zip unless configured)
JUDGE_SUMMARY_JSON = "results/judge/summary.json"

# package
REPORT_MD = "results/submission/REPORT.md"
SUBMISSION_ZIP = f"results/submission/{config['run_name']}.zip"
SUBMISSION_VERIFY = f"results/submission/{config['run_name']}.verify.json"
JUDGE_SUBMISSION = config["evaluate"]["judge_submission"] or SUBMISSION_ZIP


wildcard_constraints:
    k=r"\d+",
    model=r"base|ckpt\d+",


def model_checkpoint(wildcards):
    """Full weights of a model under evaluation: the base, or merged LoRA checkpoint k."""
    if wildcards.model == "base":
        return BASE_CKPT
    return MERGED_CKPT.format(k=wildcards.model.removeprefix("ckpt"))


def reported(path, category, caption="json_report.rst", **labels):
    """An output shown in the `snakemake --report` HTML, with its caption from workflow/report/."""
    return report(path, caption=f"../report/{caption}", category=category, labels=labels or None)
