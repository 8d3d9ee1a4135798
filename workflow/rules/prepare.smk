# Prepare datasets: `python -m data_prep` (adapters) and `python -m data_prep bias` (the
# clinical-decision-bias label transform). data_prep writes to a temporary folder and renames
# it into place, so a failed job never leaves a prepared folder that looks complete.


rule prepare:
    output:
        f"{PREPARED}/{{dataset}}/dataset.json",
    wildcard_constraints:
        dataset=pl.alternation(pl.plain_datasets(config)),
    params:
        args=lambda wildcards: pl.prepare_args(config, wildcards.dataset),
        out=lambda wildcards, output: parent(output[0]),
    log:
        f"{LOGS}/prepare/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare/{{dataset}}.tsv"
    threads: res("prepare", "threads")
    resources:
        mem_mb=res("prepare", "mem_mb"),
        runtime=res("prepare", "runtime"),
    conda:
        ENV
    shell:
        "python -m data_prep {params.args} --out {params.out} > {log} 2>&1"


rule prepare_bias:
    input:
        lambda wildcards: f"{PREPARED}/{config['datasets'][wildcards.dataset]['bias']['source']}/dataset.json",
    output:
        f"{PREPARED}/{{dataset}}/dataset.json",
    wildcard_constraints:
        dataset=pl.alternation(pl.bias_datasets(config)),
    params:
        source=lambda wildcards, input: parent(input[0]),
        args=lambda wildcards: pl.bias_args(config, wildcards.dataset),
        out=lambda wildcards, output: parent(output[0]),
    log:
        f"{LOGS}/prepare/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare/{{dataset}}.tsv"
    threads: res("prepare", "threads")
    resources:
        mem_mb=res("prepare", "mem_mb"),
        runtime=res("prepare", "runtime"),
    conda:
        ENV
    shell:
        "python -m data_prep bias --source {params.source} --out {params.out} {params.args} > {log} 2>&1"
