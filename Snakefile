# cloc-bench: CLOC versus cross-entropy across datasets, backbones and seeds.
#
#   snakemake --cores all                                   # experiments/default.yaml (CPU, synthetic)
#   snakemake --cores all --configfile experiments/paper.yaml
#   snakemake --report results/<experiment>/report.html
#
# Rules are thin wrappers around `python -m data_prep` and `cloc train|evaluate|aggregate|figures`;
# the grid logic lives in cloc/pipeline.py. See docs/pipeline.md.

from snakemake.utils import min_version, validate

min_version("8.0")


# The default experiment, unless --configfile names another (Snakemake would otherwise merge the
# two, mixing grids); --config key=value still overrides single values of either.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/experiments/default.yaml"



validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/results.smk"


rule all:
    input:
        f"{RESULTS}/summary.csv",
        f"{RESULTS}/margins.csv",
        [f for fs in FIGURES.values() for f in fs],
    default_target: True
