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
        code=code_hash("generate_sample"),
    message:
        "Generating and reconstructing {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/generate_sample.py"


# A sample listed in config inputs is read from external ntuples instead (README,
# "Bring your own ntuples"): same outputs, so every later stage runs unchanged.
ruleorder: import_sample > generate_sample


rule import_sample:
    input:
        import_files,
    output:
        candidates="results/generation/{mode}/{sample}.parquet",
        pairs="results/generation/{mode}/{sample}_pairs.parquet",
    log:
        "logs/generation/{mode}/{sample}.import.log",
    benchmark:
        "results/benchmarks/generation/{mode}/{sample}.import.tsv"
    wildcard_constraints:
        mode=import_regex(0),
        sample=import_regex(1),
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="30m",
    params:
        spec=lambda wildcards: config["inputs"][wildcards.mode][wildcards.sample],
        code=code_hash("import_sample"),
    message:
        "Importing external ntuples of {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/import_sample.py"


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
        code=code_hash("fidelity"),
    message:
        "Fidelity report: signal resolution and preselection efficiency"
    script:
        "../../scripts/fidelity.py"
