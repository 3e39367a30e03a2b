# Stand-ins for outside inputs a run lacks, only under `--config missing_inputs=plan`: they let a
# dry run show every command of the run, and fail with the file's name and config key if run.

for number, (key, path) in enumerate(MISSING_INPUTS.items()):

    rule:
        name:
            f"missing_input_{number}"
        output:
            path,
        params:
            key=key,
        log:
            logged(f"missing_inputs/{number}"),
        shell:
            "echo 'missing input {output} (config key {params.key}): put the file there' > {log};"
            " exit 1"
