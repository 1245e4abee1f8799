# Stage 6: results others can reuse: limits over (m_a, c tau), the HEPData record
# (published likelihoods) and the recast of the shipped ALP models (alpscan recast).


rule lifetime_limits:
    input:
        scan="results/scan/{mode}.parquet",
        fits="results/signal_model/{mode}_longlived.parquet",
        points="results/signal_model/{mode}_longlived_points.parquet",
    output:
        "results/limits/{mode}_ctau.parquet",
    log:
        "logs/reuse/lifetime_limits_{mode}.log",
    benchmark:
        "results/benchmarks/reuse/lifetime_limits_{mode}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        code=code_hash("lifetime_limits"),
    message:
        "Limits over (m_a, c tau) of mode {wildcards.mode}"
    script:
        "../../scripts/lifetime_limits.py"


rule figure_lifetime:
    input:
        table="results/limits/{mode}_ctau.parquet",
        points="results/signal_model/{mode}_longlived_points.parquet",
    output:
        report(
            "results/figures/ctau_limits_{mode}.png",
            caption="../report/ctau_limits.rst",
            category="6. Reuse",
            labels={"mode": "{mode}"},
        ),
    log:
        "logs/reuse/figure_lifetime_{mode}.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        vetoes=config["scan"]["vetoes_gev"],
        code=code_hash("figure_lifetime"),
    message:
        "Figure: limits over (m_a, c tau) of mode {wildcards.mode}"
    script:
        "../../scripts/figure_lifetime.py"


rule hepdata:
    input:
        scans=expand("results/scan/{mode}.parquet", mode=MODES),
        profiles=expand("results/limits/{mode}_profiles.parquet", mode=MODES),
        ctau=expand("results/limits/{mode}_ctau.parquet", mode=MODES),
        ll_points=expand(
            "results/signal_model/{mode}_longlived_points.parquet", mode=MODES
        ),
        ll_fits=expand("results/signal_model/{mode}_longlived.parquet", mode=MODES),
        gaw="results/limits/gaw.parquet",
    output:
        # a file, not directory(): Snakemake's timestamp file in the record would be
        # an unreferenced file to hepdata-validate
        record="results/hepdata/submission.yaml",
        tarball="results/hepdata.tar.gz",
    log:
        "logs/reuse/hepdata.log",
    benchmark:
        "results/benchmarks/reuse/hepdata.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="20m",
    params:
        modes=MODES,
        limits=config_subset("limits", "cl", "efficiency_syst_rel"),
        code=code_hash("hepdata"),
    message:
        "HEPData record of the {params.modes} modes"
    script:
        "../../scripts/hepdata.py"


rule recast:
    input:
        record="results/hepdata/submission.yaml",
    output:
        table="results/recast/{model}.csv",
        figure=report(
            "results/recast/{model}.png",
            caption="../report/recast.rst",
            category="6. Reuse",
            labels={"model": "{model}"},
        ),
    log:
        "logs/reuse/recast_{model}.log",
    benchmark:
        "results/benchmarks/reuse/recast_{model}.tsv"
    wildcard_constraints:
        model="|".join(RECAST_MODELS),
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="30m",
    params:
        code=code_hash("recast"),
    message:
        "alpscan recast {wildcards.model} from the HEPData record"
    script:
        "../../scripts/recast.py"
