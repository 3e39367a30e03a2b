# Rules of the evaluate stage group: predictions on the development set (which every choice reads)
# and on the test set (read only for reporting; there also, as a diagnostic, in the fine-tuning
# template), math accuracy, SQuAD F1/EM, the shipped script's run, contamination, and the per-model
# summary. Judging a submission reuses them (judge.smk).


if config["squad"]["source"] == "synth":

    rule squad_synth:
        output:
            SQUAD_DEV_JSON,
        params:
            settings=stage_settings(SquadSynthSettings),
        conda:
            MATHLORA_ENV
        log:
            logged("squad_synth/squad_synth"),
        benchmark:
            timed("squad_synth/squad_synth")
        shell:
            "mathlora squad synth --settings {params.settings:q} --out {output} > {log} 2>&1"


# One process per model for all its generations: the development set (which every choice reads),
# the test set, the test set in the fine-tuning template (a diagnostic) and SQuAD. Each output is
# what `mathlora predict` or `mathlora squad eval` would write alone with the same settings.
rule evaluate_model:
    input:
        yaml=PREDICT_YAML,
        checkpoint=model_checkpoint,
        dev=DEV_JSONL,
        test=TEST_JSONL,
        squad=SQUAD_DEV_JSON,
        tokenizer=TOKENIZER_MODEL,
    output:
        dev_jsonl=DEV_PREDICTIONS_JSONL,
        dev_npy=DEV_RESULT_NPY,
        dev_json=DEV_PREDICT_JSON,
        jsonl=PREDICTIONS_JSONL,
        npy=RESULT_NPY,
        json=reported(PREDICT_JSON, "3. Evaluation", model="{model}", report="predict"),
        template_jsonl=TEMPLATE_PREDICTIONS_JSONL,
        template_npy=TEMPLATE_RESULT_NPY,
        template_json=TEMPLATE_PREDICT_JSON,
        squad=reported(SQUAD_JSON, "3. Evaluation", model="{model}", report="squad"),
    params:
        settings=stage_settings(EvaluationSettings),
        math=math_sets(("dev", PROMPT, "dev_"), ("test", PROMPT, ""), ("test", "finetune", "template_")),
    conda:
        MATHLORA_ENV
    log:
        logged("evaluate/{model}"),
    benchmark:
        timed("evaluate/{model}")
    shell:
        "mathlora evaluate --model {wildcards.model} --model-yaml {input.yaml}"
        " --checkpoint {input.checkpoint} --tokenizer {input.tokenizer} --settings {params.settings:q}"
        " {params.math} --squad {input.squad} {output.squad} > {log} 2>&1"


rule math:
    input:
        predictions=PREDICTIONS_JSONL,
        test=TEST_JSONL,
    output:
        json=reported(MATH_JSON, "3. Evaluation", model="{model}", report="math"),
        png=reported(MATH_PNG, "3. Evaluation", "math_by_category.rst", model="{model}", report="math chart"),
    params:
        settings=stage_settings(MathSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("math/{model}"),
    benchmark:
        timed("math/{model}")
    shell:
        "mathlora math --model {wildcards.model} --predictions {input.predictions}"
        " --test {input.test} --settings {params.settings:q}"
        " --out {output.json} --png {output.png} > {log} 2>&1"


# The development set: what every choice reads.
use rule math as math_dev with:
    input:
        predictions=DEV_PREDICTIONS_JSONL,
        test=DEV_JSONL,
    output:
        json=DEV_MATH_JSON,
        png=DEV_MATH_PNG,
    log:
        logged("math_dev/{model}"),
    benchmark:
        timed("math_dev/{model}")


# The template diagnostic: every model also asked in the fine-tuning conversation's template.
use rule math as math_template with:
    input:
        predictions=TEMPLATE_PREDICTIONS_JSONL,
        test=TEST_JSONL,
    output:
        json=TEMPLATE_MATH_JSON,
        png=TEMPLATE_MATH_PNG,
    params:
        settings=stage_settings(MathSettings, prompt="finetune"),
    log:
        logged("math_template/{model}"),
    benchmark:
        timed("math_template/{model}")


rule entry_script:
    input:
        script=ENTRY_SCRIPT,
        yaml=PREDICT_YAML,
        checkpoint=MERGED_CKPT.format(k=CHECKPOINTS[-1]),
        tokenizer=TOKENIZER_MODEL,
        test=TEST_JSONL,
        # The script always asks with the entry's prompt: predict's texts compare only if it did too.
        compare=[RESULT_NPY.format(model=f"ckpt{CHECKPOINTS[-1]}")]
        if config["evaluate"]["prompt"] == "entry" else [],
    output:
        reported(ENTRY_SCRIPT_JSON, "3. Evaluation", report="entry script"),
    params:
        compare=lambda wildcards, input: f"--compare {input.compare}" if input.compare else "",
        workdir=ENTRY_SCRIPT_WORKDIR,
        subset=config["evaluate"].get("entry_script_items", 0),
        max_length=config["evaluate"]["max_length"],
        settings=stage_settings(RuleSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("entry_script/entry_script"),
    benchmark:
        timed("entry_script/entry_script")
    shell:
        "mathlora entry-script --script {input.script} --workdir {params.workdir}"
        " --items {params.subset} {params.compare} --settings {params.settings:q} --out {output}"
        " -- --config {input.yaml} --run_mode predict"
        " --use_parallel False --load_checkpoint {input.checkpoint} --vocab_file {input.tokenizer}"
        " --auto_trans_ckpt False --input_dir {input.test} --max_length {params.max_length}"
        " > {log} 2>&1"


rule contamination:
    input:
        unpack(contamination_inputs),
    output:
        reported(CONTAMINATION_JSON, "3. Evaluation", report="contamination"),
    params:
        base=lambda wildcards, input: " ".join(
            f"--base-{name} {input[name]}" for name in ("corpus", "report") if name in input.keys()),
    conda:
        MATHLORA_ENV
    log:
        logged("contamination/{split}"),
    benchmark:
        timed("contamination/{split}")
    shell:
        "mathlora contamination --train {input.train} --test {input.test} {params.base}"
        " --out {output} > {log} 2>&1"


rule summary:
    input:
        params=PARAMS_JSON,
        math=expand(MATH_JSON, model=MODELS),
        dev=expand(DEV_MATH_JSON, model=MODELS),
        squad=expand(SQUAD_JSON, model=MODELS),
        template=expand(TEMPLATE_MATH_JSON, model=MODELS),
        contamination=expand(CONTAMINATION_JSON, split=HELD_OUT),
    output:
        json=reported(SUMMARY_JSON, "3. Evaluation", report="summary"),
        plot=reported(TRAJECTORY_PNG, "3. Evaluation", "trajectory.rst", report="trajectory"),
    params:
        marks=stage_settings(ThresholdSettings),
        contamination=lambda wildcards, input: f"--contamination {' '.join(input.contamination)}",
        dev=lambda wildcards, input: f"--dev {' '.join(input.dev)}",
        claimed="",
        template=lambda wildcards, input: f"--diagnostic {' '.join(input.template)}",
    conda:
        MATHLORA_ENV
    log:
        logged("summary/summary"),
    benchmark:
        timed("summary/summary")
    shell:
        "mathlora summary --params {input.params} --math {input.math} --squad {input.squad}"
        " {params.dev} {params.template} {params.contamination} {params.claimed} --settings {params.marks:q}"
        " --out {output.json} --plot {output.plot} > {log} 2>&1"

