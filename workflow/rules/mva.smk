# Stage 2a: multivariate classifiers (spec §5): continuum suppression CS1/CS2, the
# pi0/eta veto and the Xs-gamma BDT, trained per mode; then every sample is scored.


rule train_continuum_suppression:
    input:
        signal="results/generation/{mode}/signal_uniform.parquet",
        background=background_inputs,
    output:
        cs1_low="results/mva/{mode}/cs1_low.json",
        cs1_high="results/mva/{mode}/cs1_high.json",
        cs2_low="results/mva/{mode}/cs2_low.json",
        cs2_high="results/mva/{mode}/cs2_high.json",
    log:
        "logs/mva/{mode}/train_continuum_suppression.log",
    benchmark:
        "results/benchmarks/mva/{mode}/train_continuum_suppression.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="30m",
    params:
        mva=config_subset(
            "mva",
            "bdt",
            "train_fraction",
            "max_train_events",
            "boundary_gev",
            "cs2_loose_cs1_cut",
        ),
        seed=config["seed"],
        code=code_hash("train_continuum_suppression"),
    message:
        "Training CS1 and CS2 for mode {wildcards.mode}"
    script:
        "../../scripts/train_continuum_suppression.py"


rule train_veto:
    input:
        signal="results/generation/{mode}/signal_uniform.parquet",
        signal_pairs="results/generation/{mode}/signal_uniform_pairs.parquet",
        background=background_inputs,
        background_pairs=background_pair_inputs,
    output:
        expand("results/mva/{{mode}}/veto/{name}", name=VETO_MODEL_FILES),
    log:
        "logs/mva/{mode}/train_veto.log",
    benchmark:
        "results/benchmarks/mva/{mode}/train_veto.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="30m",
    params:
        veto=config["mva"]["veto"],
        train_fraction=config["mva"]["train_fraction"],
        seed=config["seed"],
        code=code_hash("train_veto"),
    message:
        "Training the pi0/eta veto for mode {wildcards.mode}"
    script:
        "../../scripts/train_veto.py"


rule train_xsgamma:
    input:
        signal="results/generation/{mode}/signal_uniform.parquet",
        xsgamma="results/generation/{mode}/xsgamma.parquet",
    output:
        "results/mva/{mode}/xsgamma.json",
    log:
        "logs/mva/{mode}/train_xsgamma.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="20m",
    params:
        bdt=config["mva"]["bdt"],
        train_fraction=config["mva"]["train_fraction"],
        max_train_events=config["mva"]["max_train_events"],
        seed=config["seed"],
        code=code_hash("train_xsgamma"),
    message:
        "Training the Xs-gamma BDT for mode {wildcards.mode}"
    script:
        "../../scripts/train_xsgamma.py"


rule score_mode:
    input:
        candidates=expand(
            "results/generation/{{mode}}/{sample}.parquet", sample=ALL_SAMPLES
        ),
        pairs=expand(
            "results/generation/{{mode}}/{sample}_pairs.parquet", sample=ALL_SAMPLES
        ),
        cs=rules.train_continuum_suppression.output,
        veto=rules.train_veto.output,
        xsgamma=rules.train_xsgamma.output,
    output:
        expand("results/mva/{{mode}}/{sample}.parquet", sample=ALL_SAMPLES),
    log:
        "logs/mva/{mode}/score.log",
    benchmark:
        "results/benchmarks/mva/{mode}/score.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(4000),
        runtime="30m",
    params:
        train_fraction=config["mva"]["train_fraction"],
        boundary=config["mva"]["boundary_gev"],
        seed=config["seed"],
        samples=ALL_SAMPLES,
        code=code_hash("score_mode"),
    message:
        "Scoring every sample of mode {wildcards.mode}"
    script:
        "../../scripts/score_mode.py"
