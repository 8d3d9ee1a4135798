# Aggregate per-run metrics into the comparison tables, then draw the figures. Each output is
# registered for `snakemake --report results/<experiment>/report.html`.


rule aggregate:
    input:
        metrics=pl.metrics_files(config),
        phase1=[str(Path(m).parent / pl.TRAIN_DONE) for m in pl.phase1_margin_files(config)],
    output:
        runs=report(
            f"{RESULTS}/runs.csv",
            category="Tables",
            labels={"table": "runs (one row per job and metric)"},
        ),
        summary=report(
            f"{RESULTS}/summary.csv",
            category="Tables",
            labels={"table": "summary (mean, std, paired test vs ce)"},
        ),
        summary_html=report(
            f"{RESULTS}/summary.html",
            category="Tables",
            labels={"table": "summary (formatted)"},
        ),
        summary_md=f"{RESULTS}/summary.md",
        summary_tex=f"{RESULTS}/summary.tex",
        margins=report(
            f"{RESULTS}/margins.csv",
            category="Tables",
            labels={"table": "learned adjacent margins"},
        ),
        trajectories=f"{RESULTS}/margin_trajectories.csv",
        confusion=f"{RESULTS}/confusion.csv",
    params:
        margins=pl.phase1_margin_files(config),
        show=config["metrics"],
        out=lambda wildcards, output: parent(output.summary),
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    threads: res("aggregate", "threads")
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    shell:
        "cloc aggregate --out-dir {params.out} --show-metrics {params.show}"
        " --metrics {input.metrics} --margins {params.margins} > {log} 2>&1"


rule figures:
    input:
        runs=f"{RESULTS}/runs.csv",
        trajectories=f"{RESULTS}/margin_trajectories.csv",
        confusion=f"{RESULTS}/confusion.csv",
    output:
        margins=[
            report(f, category="Margin trajectories (phase one)", labels={"figure": Path(f).stem})
            for f in FIGURES["margins"]
        ],
        confusion=[
            report(f, category="Confusion matrices", labels={"figure": Path(f).stem})
            for f in FIGURES["confusion"]
        ],
        metrics=[
            report(f, category="Metric comparison", labels={"figure": Path(f).stem})
            for f in FIGURES["metrics"]
        ],
    params:
        out=lambda wildcards, output: parent(output[0]),
        show=config["metrics"],
    log:
        f"{LOGS}/figures.log",
    benchmark:
        f"{BENCH}/figures.tsv"
    threads: res("aggregate", "threads")
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    shell:
        "cloc figures --runs {input.runs} --trajectories {input.trajectories}"
        " --confusion {input.confusion} --out-dir {params.out} --show-metrics {params.show}"
        " > {log} 2>&1"
