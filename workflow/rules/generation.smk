# Stage 1: toy Belle simulation (spec §1-4).  One job per (mode, sample).


rule generate_sample:
    output:
        candidates="results/generation/{mode}/{sample}.parquet",
        pairs="results/generation/{mode}/{sample}_pairs.parquet",
    log:
        "logs/generation/{mode}/{sample}.log",
    benchmark:
        "results/benchmarks/generation/{mode}/{sample}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="30m",
    params:
        cfg=generation_config,
        seed=config["seed"],
        code=code_hash("generation", "physics"),
    message:
        "Generating and reconstructing {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/generate_sample.py"


rule fidelity:
    input:
        signal=expand("results/generation/{mode}/signal_prompt.parquet", mode=MODES),
    output:
        report(
            "results/generation/fidelity.json",
            caption="../report/fidelity.rst",
            category="1. Generation",
        ),
    log:
        "logs/generation/fidelity.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="10m",
    params:
        fidelity=config["fidelity"],
        subdecay=config["physics"]["subdecay"],
        modes=MODES,
        code=code_hash("fitting", "generation", "validation"),
    message:
        "Fidelity report: signal resolution and preselection efficiency"
    script:
        "../../scripts/fidelity.py"
