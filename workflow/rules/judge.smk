# Rules of judging: a submission re-evaluated as an outsider would, by the same evaluate, math
# and summary commands as the graph's own models. Nothing is extracted before the archive passes
# verify's protective checks, and a mathlora bundle the whole of verify (mathlora unpack); nothing is
# scored before that, the base model included; each checkpoint is turned into full weights, merged
# here when the LoRA matrices are still inside; the base model is judged for relative SQuAD marks.
checkpoint judge_unpack:
    input:
        # the graph's own merged checkpoints when its zip only links them
        expand(MERGED_CKPT, k=CHECKPOINTS) if JUDGE_OWN_CHECKPOINTS else JUDGE_SOURCE,
    output:
        folder=directory(JUDGE_UNPACKED),
        report=JUDGE_UNPACK_JSON,
    params:
        source=lambda wildcards, input: (os.path.dirname(input[0]) if JUDGE_OWN_CHECKPOINTS
                                         else input[0]),
        links=lambda wildcards: judged_links(),
    conda:
        MATHLORA_ENV
    log:
        logged("judge/unpack"),
    benchmark:
        timed("judge/unpack")
    shell:
        "mathlora unpack {params.source} {params.links} --out-dir {output.folder}"
        " --out {output.report} > {log} 2>&1"


rule judge_full_weights:
    input:
        checkpoint=lambda wildcards: unpacked(f"{wildcards.model}.ckpt"),
        yaml=lambda wildcards: submission_file("finetune.yaml", PREDICT_YAML),
        base=BASE_CKPT,
    output:
        ckpt=JUDGE_WEIGHTS,
        report=JUDGE_WEIGHTS_JSON,
    conda:
        MATHLORA_ENV
    log:
        logged("judge/weights/{model}"),
    benchmark:
        timed("judge/weights/{model}")
    shell:
        "mathlora full-weights --checkpoint {input.checkpoint} --yaml {input.yaml}"
        " --base-checkpoint {input.base} --out {output.ckpt} --report {output.report} > {log} 2>&1"


# The judge's generations of one model: the hidden set and SQuAD.
use rule evaluate_model as judge_evaluate with:
    input:
        verified=JUDGE_UNPACK_JSON,
        yaml=PREDICT_YAML,
        checkpoint=judged_weights,
        test=JUDGE_TEST,
        squad=SQUAD_DEV_JSON,
        tokenizer=TOKENIZER_MODEL,
    output:
        jsonl=JUDGE_PREDICTIONS_JSONL,
        npy=JUDGE_RESULT_NPY,
        json=JUDGE_PREDICT_JSON,
        squad=JUDGE_SQUAD_JSON,
    params:
        settings=stage_settings(EvaluationSettings),
        math=math_sets(("test", PROMPT, "")),
    log:
        logged("judge/evaluate/{model}"),
    benchmark:
        timed("judge/evaluate/{model}")


use rule math as judge_math with:
    input:
        predictions=JUDGE_PREDICTIONS_JSONL,
        test=JUDGE_TEST,
    output:
        json=JUDGE_MATH_JSON,
        png=JUDGE_MATH_PNG,
    log:
        logged("judge/math/{model}"),
    benchmark:
        timed("judge/math/{model}")


use rule summary as judge_summary with:
    input:
        params=lambda wildcards: submission_file("params.json", PARAMS_JSON),
        math=lambda wildcards: expand(JUDGE_MATH_JSON, model=judged_models()),
        squad=lambda wildcards: expand(JUDGE_SQUAD_JSON, model=judged_models()),
    output:
        json=JUDGE_SUMMARY_JSON,
        plot=JUDGE_TRAJECTORY_PNG,
    params:
        marks=stage_settings(ThresholdSettings),
        contamination="",
        template="",
        dev="",  # the judge's hidden set is all it has: the choice reads it, as the organisers' did
        claimed=lambda wildcards: (f"--claimed {unpacked('summary.json')}"
                                   if unpacked("summary.json").is_file() else ""),
    log:
        logged("judge/summary"),
    benchmark:
        timed("judge/summary")
