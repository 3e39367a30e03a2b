# mathlora: raw math data -> LoRA fine-tuned Llama3 -> evaluation -> submission bundle.
# Thin on purpose: every rule calls one `mathlora` subcommand; the logic lives in src/mathlora.
from snakemake.utils import min_version

from mathlora.settings import validated

min_version("9.0")


# The embedded default, unless the command line names config files: those stand alone (Snakemake
# would otherwise merge them over this one, and the 8B run would inherit the tiny base's keys).
# An overlay is named after its base: --configfile config/ascend.yaml config/ascend-2x4.yaml.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The one validation of the graph and the library (mathlora.settings): the schema applied, its
# defaults filled, the first error naming its field.
config.update(validated(config, source="config"))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/environment.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/package.smk"
include: "workflow/rules/judge.smk"
include: "workflow/rules/leaderboard.smk"


rule all:
    default_target: True
    input:
        SUBMISSION_ZIP,


rule submission:
    input:
        SUBMISSION_ZIP,
        SUBMISSION_VERIFY,


rule data:
    input:
        TRAIN_MINDRECORD,
        DEV_JSONL,
        TEST_JSONL,


rule models:
    input:
        expand(MERGED_CKPT, k=CHECKPOINTS),
        PARAMS_JSON,


rule evaluation:
    input:
        SUMMARY_JSON,


rule judge:
    input:
        JUDGE_SUMMARY_JSON,


rule leaderboard:
    input:
        LEADERBOARD_JSON,


rule base_model:
    input:
        TOKENIZER_MODEL,
        BASE_CKPT,
        BASE_JSON or [],
        BASE_READING_JSON if config["base"]["source"] == "pretrain" else [],
