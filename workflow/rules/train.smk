# Training and evaluation: `cloc train` (ce, CLOC phase one, CLOC phase two) and `cloc evaluate`.
#
# ce and CLOC phase two evaluate at the end of the training job (`cloc train` without
# --no-evaluate: one process start per run instead of two); their declared outputs are the
# evaluation files (metrics.json, predictions.csv, confusion.csv), written only after training
# finished. Phase one declares only a `train.done` marker, touched by Snakemake after `cloc train`
# exits successfully; `cloc evaluate` runs on phase one only when train.evaluate_phase1 is set.
#
# Interrupt/resume: the engine's own files (checkpoint.pt, best.pt, history.csv, margins.json,
# run.json) are never declared outputs, so when a killed job is rerun (--rerun-incomplete, set in
# profiles/default, or after Snakemake's cleanup of a failed job) only the declared outputs are
# removed and `cloc train` resumes from its last checkpoint. See docs/pipeline.md.


rule train_ce:
    input:
        unpack(train_inputs("ce")),
    output:
        metrics=f"{CE_RUN}/metrics.json",
        predictions=f"{CE_RUN}/predictions.csv",
        confusion=f"{CE_RUN}/confusion.csv",
    params:
        prepared=lambda wildcards, input: parent(input.dataset),
        run=lambda wildcards, output: parent(output.metrics),
        args=train_params("ce"),
    log:
        f"{LOGS}/train/{{dataset}}/split{{split}}/{{backbone}}/ce/seed{{seed}}/ce.log",
    benchmark:
        f"{BENCH}/train/{{dataset}}/split{{split}}/{{backbone}}/ce/seed{{seed}}/ce.tsv"
    threads: res("train", "threads")
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        **gpu_resources("train"),
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} cloc train --prepared {params.prepared} --split {wildcards.split}"
        " --backbone {wildcards.backbone} --method ce --seed {wildcards.seed}"
        " --out {params.run} {params.args} > {log} 2>&1"


rule train_phase1:
    input:
        unpack(train_inputs("phase1")),
    output:
        done=touch(f"{RUNS}/phase1/{pl.TRAIN_DONE}"),
    wildcard_constraints:
        method="cloc_mm|cloc_sm",
    params:
        prepared=lambda wildcards, input: parent(input.dataset),
        run=lambda wildcards, output: parent(output.done),
        args=train_params("phase1"),
    log:
        f"{LOGS}/train/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/phase1.log",
    benchmark:
        f"{BENCH}/train/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/phase1.tsv"
    threads: res("train", "threads")
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        **gpu_resources("train"),
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} cloc train --prepared {params.prepared} --split {wildcards.split}"
        " --backbone {wildcards.backbone} --method {wildcards.method} --phase 1 --seed {wildcards.seed}"
        " --out {params.run} --no-evaluate {params.args} > {log} 2>&1"


rule train_phase2:
    input:
        unpack(train_inputs("phase2")),
    output:
        metrics=f"{RUNS}/phase2/metrics.json",
        predictions=f"{RUNS}/phase2/predictions.csv",
        confusion=f"{RUNS}/phase2/confusion.csv",
    wildcard_constraints:
        method="cloc_mm|cloc_sm",
    params:
        prepared=lambda wildcards, input: parent(input.dataset),
        run=lambda wildcards, output: parent(output.metrics),
        margins=lambda wildcards: phase1_files(wildcards, "margins.json"),
        init=lambda wildcards: phase1_files(wildcards, "checkpoint.pt"),
        args=train_params("phase2"),
    log:
        f"{LOGS}/train/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/phase2.log",
    benchmark:
        f"{BENCH}/train/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/phase2.tsv"
    threads: res("train", "threads")
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        **gpu_resources("train"),
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} cloc train --prepared {params.prepared} --split {wildcards.split}"
        " --backbone {wildcards.backbone} --method {wildcards.method} --phase 2 --seed {wildcards.seed}"
        " --margins-from {params.margins} --init-from {params.init}"
        " --out {params.run} {params.args} > {log} 2>&1"


rule evaluate:
    wildcard_constraints:
        stage="phase1",
    input:
        done=f"{RUNS}/{{stage}}/{pl.TRAIN_DONE}",
    output:
        metrics=f"{RUNS}/{{stage}}/metrics.json",
        predictions=f"{RUNS}/{{stage}}/predictions.csv",
        confusion=f"{RUNS}/{{stage}}/confusion.csv",
    params:
        run=lambda wildcards, input: parent(input.done),
    log:
        f"{LOGS}/evaluate/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{dataset}}/split{{split}}/{{backbone}}/{{method}}/seed{{seed}}/{{stage}}.tsv"
    threads: res("evaluate", "threads")
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        **gpu_resources("evaluate"),
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} cloc evaluate --run {params.run} > {log} 2>&1"
