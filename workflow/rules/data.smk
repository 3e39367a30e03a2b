# Rules of the data stage group: raw train.json -> training sample, test set, conversations,
# tokenizer, MindRecord. Each rule is one `mathlora` call; config reaches it only as arguments.

DATA = config["data"]


if DATA["source"] == "synth":

    rule synth:
        output:
            TRAIN_JSON,
        params:
            settings=stage_settings(SynthSettings),
        conda:
            MATHLORA_ENV
        log:
            logged("synth/synth"),
        benchmark:
            timed("synth/synth")
        shell:
            "mathlora synth --settings {params.settings:q} --out {output} > {log} 2>&1"


rule prepare:
    input:
        TRAIN_JSON,
    output:
        jsonl=TRAIN_JSONL,
        report=reported(PREPARE_JSON, "1. Data", report="prepare"),
    params:
        settings=stage_settings(PrepareSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("prepare/prepare"),
    benchmark:
        timed("prepare/prepare")
    shell:
        "mathlora prepare --in {input} --settings {params.settings:q}"
        " --out {output.jsonl} --report {output.report} > {log} 2>&1"


rule split:
    input:
        raw=TRAIN_JSON,
        train=TRAIN_JSONL,
    output:
        dev=DEV_JSONL,
        test=TEST_JSONL,
        report=reported(SPLIT_JSON, "1. Data", report="split"),
    params:
        settings=stage_settings(SplitSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("split/split"),
    benchmark:
        timed("split/split")
    shell:
        "mathlora split --in {input.raw} --train {input.train} --settings {params.settings:q}"
        " --out-dev {output.dev} --out-test {output.test} --report {output.report} > {log} 2>&1"


rule conversation:
    input:
        TRAIN_JSONL,
    output:
        conversations=CONVERSATION_JSON,
        report=reported(CONVERSATION_REPORT, "1. Data", report="conversation"),
    params:
        settings=stage_settings(ConversationSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("conversation/conversation"),
    benchmark:
        timed("conversation/conversation")
    shell:
        "mathlora conversation --in {input} --settings {params.settings:q} --out {output.conversations}"
        " --report {output.report} > {log} 2>&1"


if config["tokenizer"]["source"] == "train":

    rule tokenizer:
        input:
            conversations=CONVERSATION_JSON,
            corpus=WORLD_JSONL if HAS_WORLD else [],
        output:
            model=TOKENIZER_MODEL,
            report=reported(TOKENIZER_JSON, "1. Data", report="tokenizer"),
        params:
            settings=stage_settings(TokenizerSettings),
            corpus=f"--corpus {WORLD_JSONL}" if HAS_WORLD else "",
        conda:
            MATHLORA_ENV
        log:
            logged("tokenizer/tokenizer"),
        benchmark:
            timed("tokenizer/tokenizer")
        shell:
            "mathlora tokenizer train --in {input.conversations} {params.corpus}"
            " --settings {params.settings:q} --out {output.model}"
            " --report {output.report} > {log} 2>&1"

else:

    rule tokenizer_info:
        input:
            model=TOKENIZER_MODEL,
            text=CONVERSATION_JSON,
        output:
            reported(TOKENIZER_JSON, "1. Data", report="tokenizer"),
        conda:
            MATHLORA_ENV
        log:
            logged("tokenizer_info/tokenizer_info"),
        benchmark:
            timed("tokenizer_info/tokenizer_info")
        shell:
            "mathlora tokenizer info --model {input.model} --text {input.text} --report {output}"
            " > {log} 2>&1"


rule mindrecord:
    input:
        conversations=CONVERSATION_JSON,
        tokenizer=TOKENIZER_MODEL,
    output:
        data=TRAIN_MINDRECORD,
        index=TRAIN_MINDRECORD_INDEX,
        report=reported(MINDRECORD_JSON, "1. Data", report="mindrecord"),
    params:
        settings=stage_settings(MindrecordSettings),
    conda:
        MATHLORA_ENV
    log:
        logged("mindrecord/mindrecord"),
    benchmark:
        timed("mindrecord/mindrecord")
    shell:
        "mathlora mindrecord --in {input.conversations} --tokenizer {input.tokenizer}"
        " --settings {params.settings:q} --out {output.data}"
        " --report {output.report} > {log} 2>&1"


if HAS_WORLD:

    rule world:
        input:
            train=TRAIN_JSONL,
            held_out=[HELD_OUT[name] for name in WORLD_HELD_OUT],
        output:
            corpus=WORLD_JSONL,
            report=reported(WORLD_JSON, "1. Data", report="world"),
        params:
            settings=stage_settings(WorldSettings),
        conda:
            MATHLORA_ENV
        log:
            logged("world/world"),
        benchmark:
            timed("world/world")
        shell:
            "mathlora world --settings {params.settings:q}"
            " --exclude {input.train} {input.held_out} --out {output.corpus} --report {output.report}"
            " > {log} 2>&1"
