# Rules of the model stage group: yaml -> (tiny base) -> LoRA fine-tuning -> merged checkpoints.
from mathlora.model.workflow import model_settings, training_command


rule render_yaml:
    input:
        tokenizer=TOKENIZER_MODEL,
        dataset=TRAIN_MINDRECORD,
    output:
        FINETUNE_YAML,
    params:
        settings=lambda wildcards: model_settings(config),
        base=BASE_CKPT,
        workdir=FINETUNE_WORKDIR,
    conda:
        MATHLORA_ENV
    log:
        logged("render_yaml/render_yaml"),
    benchmark:
        timed("render_yaml/render_yaml")
    shell:
        "mathlora render-yaml --settings {params.settings:q} --mode finetune"
        " --tokenizer {input.tokenizer} --dataset {input.dataset}"
        " --load-checkpoint {params.base} --output-dir {params.workdir} --out {output} > {log} 2>&1"


rule render_predict_yaml:
    input:
        TOKENIZER_MODEL,
    output:
        PREDICT_YAML,
    params:
        settings=lambda wildcards: model_settings(config),
    conda:
        MATHLORA_ENV
    log:
        logged("render_predict_yaml/render_predict_yaml"),
    benchmark:
        timed("render_predict_yaml/render_predict_yaml")
    shell:
        "mathlora render-yaml --settings {params.settings:q} --mode predict --tokenizer {input}"
        " --out {output} > {log} 2>&1"


if config["base"]["source"] == "pretrain":

    rule base:
        input:
            yaml=FINETUNE_YAML,
            tokenizer=TOKENIZER_MODEL,
            corpus=WORLD_JSONL,
        output:
            ckpt=BASE_CKPT,
            report=reported(BASE_JSON, "2. Training", report="base"),
            plot=BASE_LOSS_PNG,
        params:
            settings=stage_settings(BaseSettings),
            workdir=BASE_WORKDIR,
        resources:
            devices=1,
            mem_mb=4000,
            runtime=90,  # minutes: about an hour on 2 cores
        conda:
            MATHLORA_ENV
        log:
            logged("base/base"),
        benchmark:
            timed("base/base")
        shell:
            "mathlora base --yaml {input.yaml} --tokenizer {input.tokenizer}"
            " --corpus {input.corpus} --settings {params.settings:q}"
            " --workdir {params.workdir} --out {output.ckpt} --report {output.report}"
            " --plot {output.plot} > {log} 2>&1"

    # Bases pretrained on one world differ by base.training_seed, and only some learn to copy an
    # answer out of a passage; this tells which. It reads generated passages of a split of their
    # own, so choosing among seeds never reads the SQuAD set the reports give.
    rule base_check_squad:
        output:
            BASE_CHECK_SQUAD_JSON,
        params:
            settings=stage_settings(SquadSynthSettings),
        conda:
            MATHLORA_ENV
        log:
            logged("base_check_squad/base_check_squad"),
        benchmark:
            timed("base_check_squad/base_check_squad")
        shell:
            "mathlora squad synth --split base-check --settings {params.settings:q} --out {output}"
            " > {log} 2>&1"

    rule base_reading:
        input:
            yaml=PREDICT_YAML,
            checkpoint=BASE_CKPT,
            tokenizer=TOKENIZER_MODEL,
            squad=BASE_CHECK_SQUAD_JSON,
        output:
            BASE_READING_JSON,
        params:
            settings=stage_settings(SquadSettings),
        conda:
            MATHLORA_ENV
        log:
            logged("base_reading/base_reading"),
        benchmark:
            timed("base_reading/base_reading")
        shell:
            "mathlora squad eval --dev {input.squad} --model base --model-yaml {input.yaml}"
            " --checkpoint {input.checkpoint} --tokenizer {input.tokenizer}"
            " --settings {params.settings:q} --out {output} > {log} 2>&1"


rule finetune:
    input:
        yaml=FINETUNE_YAML,
        base=BASE_CKPT,
        dataset=TRAIN_MINDRECORD,
    output:
        ckpts=expand(LORA_CKPT, k=CHECKPOINTS),
        # updated in place, not cleared: a re-run resumes from the last checkpoint left in it
        workdir=update(directory(FINETUNE_WORKDIR)),
        report=reported(FINETUNE_JSON, "2. Training", report="finetune"),
        plot=reported(LOSS_PNG, "2. Training", "loss.rst", report="loss curve"),
    params:
        launch=lambda wildcards: training_command(config, log_dir=MSRUN_LOGS),
        checkpoints=len(CHECKPOINTS),
        pattern=lambda wildcards: LORA_CKPT,
    resources:
        devices=config["finetune"]["launcher"].get("local_worker_num", 1),
        mem_mb=8000 if config["device"] == "cpu" else 256000,
        runtime=60 if config["device"] == "cpu" else 480,
    conda:
        MATHLORA_ENV
    log:
        logged("finetune/finetune"),
    benchmark:
        timed("finetune/finetune")
    shell:
        "{params.launch} finetune --yaml {input.yaml} --base {input.base}"
        " --dataset {input.dataset} --workdir {output.workdir} --checkpoints {params.checkpoints}"
        " --ckpt-out {params.pattern:q} --report {output.report} --plot {output.plot} > {log} 2>&1"


rule merge:
    input:
        yaml=FINETUNE_YAML,
        lora=LORA_CKPT,
        workdir=FINETUNE_WORKDIR,
        report=FINETUNE_JSON,
    output:
        ckpt=MERGED_CKPT,
        report=reported(MERGE_JSON, "2. Training", report="merge {k}"),
    conda:
        MATHLORA_ENV
    log:
        logged("merge/ckpt{k}"),
    benchmark:
        timed("merge/ckpt{k}")
    shell:
        "mathlora merge --yaml {input.yaml} --lora {input.lora} --workdir {input.workdir}"
        " --train-json {input.report}"
        " --k {wildcards.k} --out {output.ckpt} --report {output.report} > {log} 2>&1"


rule params:
    input:
        FINETUNE_YAML,
    output:
        reported(PARAMS_JSON, "2. Training", report="params"),
    conda:
        MATHLORA_ENV
    log:
        logged("params/params"),
    benchmark:
        timed("params/params")
    shell:
        "mathlora params --yaml {input} --out {output} > {log} 2>&1"
