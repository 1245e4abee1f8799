# Stage 1: toy Belle simulation (spec §1-4).  One job per (mode, sample).


rule generate_sample:
    output:
        candidates="results/generation/{mode}/{sample}.parquet",
        pairs="results/generation/{mode}/{sample}_pairs.parquet",
    params:
        cfg=generation_config,
        seed=config["seed"],
        code=code_hash("generation", "physics"),
    log:
        "logs/generation/{mode}/{sample}.log",
    benchmark:
        "results/benchmarks/generation/{mode}/{sample}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    conda:
        "../../envs/alpscan.yaml"
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
    params:
        fidelity=config["fidelity"],
        subdecay=config["physics"]["subdecay"],
        modes=MODES,
        code=code_hash("fitting", "generation"),
    log:
        "logs/generation/fidelity.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    conda:
        "../../envs/alpscan.yaml"
    message:
        "Fidelity report: signal resolution and preselection efficiency"
    script:
        "../../scripts/fidelity.py"
