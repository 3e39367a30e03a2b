# Rules of a leaderboard: every team of a contest folder (evaluate.contest) judged as one wildcard
# of the graph, so teams run in parallel, locally or through a cluster profile. Each team stage
# writes a record and refuses the team, with the reason, instead of failing: one team's hostile zip
# or broken checkpoint never stops the others. The base model's math and SQuAD numbers (the SQuAD
# marks) come from the judge rules, once for every team.
import shlex

from mathlora.package.leaderboard_stages import contest_entries, duplicate_names

LB_CONTEST = config["evaluate"]["contest"]
LB_ENTRIES = contest_entries(LB_CONTEST) if LB_CONTEST else []
LB_DUPLICATES = duplicate_names(LB_ENTRIES)
LB_BASE = {"base_math": JUDGE_MATH_JSON.format(model="base"),
           "base_squad": JUDGE_SQUAD_JSON.format(model="base")} if JUDGE_BASE else {}


wildcard_constraints:
    # only the contest's own entries (names are taken as they are, spaces and all)
    team="|".join(re.escape(entry) for entry in LB_ENTRIES) or r"(?!)",


rule leaderboard_intake:
    input:
        entry=LB_ENTRY,
    output:
        folder=directory(LB_UNPACKED),
        record=LB_INTAKE_JSON,
    params:
        refuse=lambda wildcards: (f"--refuse {shlex.quote(LB_DUPLICATES[wildcards.team])}"
                                  if wildcards.team in LB_DUPLICATES else ""),
    conda:
        MATHLORA_ENV
    log:
        logged("leaderboard/{team}/intake"),
    benchmark:
        timed("leaderboard/{team}/intake")
    shell:
        "mathlora leaderboard intake --entry {input.entry:q} --out-dir {output.folder:q}"
        " --out {output.record:q} {params.refuse} > {log:q} 2>&1"


rule leaderboard_params:
    input:
        record=LB_INTAKE_JSON,
        yaml=FINETUNE_YAML,  # the network of a team that declares only its LoRA settings
    output:
        LB_PARAMS_JSON,
    conda:
        MATHLORA_ENV
    log:
        logged("leaderboard/{team}/params"),
    benchmark:
        timed("leaderboard/{team}/params")
    shell:
        "mathlora leaderboard params --record {input.record:q} --graph-yaml {input.yaml}"
        " --out {output:q} > {log:q} 2>&1"


rule leaderboard_evaluate:
    input:
        record=LB_PARAMS_JSON,
        yaml=PREDICT_YAML,
        base=BASE_CKPT,
        tokenizer=TOKENIZER_MODEL,
        test=JUDGE_TEST,
        dev=SQUAD_DEV_JSON,
    output:
        LB_EVALUATE_JSON,
    params:
        work=lambda wildcards, output: os.path.dirname(output[0]),
        settings=judging_settings(),
    conda:
        MATHLORA_ENV
    log:
        logged("leaderboard/{team}/evaluate"),
    benchmark:
        timed("leaderboard/{team}/evaluate")
    shell:
        "mathlora leaderboard evaluate --record {input.record:q} --work-dir {params.work:q}"
        " --log {log:q}.steps --predict-yaml {input.yaml} --base-checkpoint {input.base}"
        " --tokenizer {input.tokenizer} --test {input.test} --squad-dev {input.dev}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule leaderboard_summary:
    input:
        record=LB_EVALUATE_JSON,
        **LB_BASE,
    output:
        LB_SUMMARY_JSON,
    params:
        base=lambda wildcards, input: (f"--base-math {input.base_math} --base-squad {input.base_squad}"
                                       if LB_BASE else ""),
        marks=stage_settings(ThresholdSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("leaderboard/{team}/summary"),
    benchmark:
        timed("leaderboard/{team}/summary")
    shell:
        "mathlora leaderboard summary --record {input.record:q} {params.base}"
        " --settings {params.marks:q} --out {output:q} > {log:q} 2>&1"


rule leaderboard_rank:
    input:
        records=expand(LB_SUMMARY_JSON, team=LB_ENTRIES),
        test=JUDGE_TEST,
    output:
        json=LEADERBOARD_JSON,
        markdown=LEADERBOARD_MD,
        html=LEADERBOARD_HTML,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.json),
    conda:
        MATHLORA_ENV
    log:
        logged("leaderboard/rank"),
    benchmark:
        timed("leaderboard/rank")
    shell:
        "mathlora leaderboard rank --records {input.records:q} --test {input.test}"
        " --out-dir {params.out_dir} > {log} 2>&1"
