# Rules of the package stage group: REPORT.md, then the submission zip, verified before it counts.
# Every JSON report of the graph goes into the bundle (its kind is recorded in the manifest).
BUNDLED_REPORTS = [
    *([BASE_JSON] if BASE_JSON else []),
    *([WORLD_JSON] if HAS_WORLD else []),
    PREPARE_JSON,
    SPLIT_JSON,
    CONVERSATION_REPORT,
    TOKENIZER_JSON,
    MINDRECORD_JSON,
    FINETUNE_JSON,
    *expand(MERGE_JSON, k=CHECKPOINTS),
    PARAMS_JSON,
    *expand(PREDICT_JSON, model=MODELS),
    *expand(MATH_JSON, model=MODELS),
    *expand(DEV_PREDICT_JSON, model=MODELS),
    *expand(DEV_MATH_JSON, model=MODELS),
    *expand(SQUAD_JSON, model=MODELS),
    *expand(TEMPLATE_PREDICT_JSON, model=MODELS),
    *expand(TEMPLATE_MATH_JSON, model=MODELS),
    *expand(CONTAMINATION_JSON, split=HELD_OUT),
    SUMMARY_JSON,
    ENTRY_SCRIPT_JSON,
]
BUNDLED_FIGURES = [LOSS_PNG, TRAJECTORY_PNG, *expand(MATH_PNG, model=MODELS)]


# Merged checkpoints go into the zip only in local mode; links mode points at links.yaml.
BUNDLED_CHECKPOINTS = (
    expand(MERGED_CKPT, k=CHECKPOINTS) if config["submission"]["checkpoints"] == "local" else []
)


rule report:
    input:
        prepare=PREPARE_JSON,
        split=SPLIT_JSON,
        conversation=CONVERSATION_REPORT,
        train=FINETUNE_JSON,
        params=PARAMS_JSON,
        summary=SUMMARY_JSON,
        yaml=FINETUNE_YAML,
        math=expand(MATH_JSON, model=MODELS),
        squad=expand(SQUAD_JSON, model=MODELS),
    output:
        report(REPORT_MD, caption="../report/report_md.rst", category="4. Submission"),
    params:
        run_name=config["run_name"],
        device=config["device"],
    conda:
        MATHLORA_ENV
    log:
        logged("report/report"),
    benchmark:
        timed("report/report")
    shell:
        "mathlora report --run-name {params.run_name} --device {params.device}"
        " --prepare {input.prepare} --split {input.split} --conversation {input.conversation}"
        " --train {input.train}"
        " --params {input.params} --summary {input.summary} --yaml {input.yaml}"
        " --math {input.math} --squad {input.squad} --out {output} > {log} 2>&1"


rule bundle:
    input:
        report=REPORT_MD,
        yaml=FINETUNE_YAML,
        submission=SUBMISSION_FILES,
        links=config["submission"]["links"],
        reports=BUNDLED_REPORTS,
        figures=BUNDLED_FIGURES,
        checkpoints=BUNDLED_CHECKPOINTS,
    output:
        zip=SUBMISSION_ZIP,
        verify=report(SUBMISSION_VERIFY, caption="../report/verify.rst", category="4. Submission"),
    params:
        name=RUN,
        mode=config["submission"]["checkpoints"],
        # only the logs and timings of this graph's jobs, and the fine-tuning workers' logs (the
        # shared MindFormers log folder is left out: judging writes there too)
        logs=lambda wildcards: " ".join(f"--log {p}" for p in graph_files("log")),
        log_dirs=f"--log-dir {MSRUN_LOGS}",
        benchmarks=lambda wildcards: " ".join(f"--benchmark {p}" for p in graph_files("benchmark")),
        reports=lambda wildcards, input: " ".join(f"--artifact {p}" for p in input.reports),
        figures=lambda wildcards, input: " ".join(f"--figure {p}" for p in input.figures),
        checkpoints=lambda wildcards, input: " ".join(f"--checkpoint {p}" for p in input.checkpoints),
    conda:
        MATHLORA_ENV
    log:
        logged("bundle/bundle"),
    benchmark:
        timed("bundle/bundle")
    shell:
        "(mathlora bundle --out {output.zip} --name {params.name} --repo ."
        " --report {input.report} --submission-dir submission --yaml {input.yaml}"
        " --checkpoints {params.mode} {params.reports} {params.figures} {params.checkpoints}"
        " {params.logs} {params.log_dirs} {params.benchmarks}"
        " && mathlora verify {output.zip} --out {output.verify}) > {log} 2>&1"
