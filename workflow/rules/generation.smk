# Stage 1: toy Belle simulation (spec §1-4).  A sample of at most
# generation.events_per_chunk events is one generate_sample job; a larger one is
# generated in chunks (generate_chunk, one job each) and concatenated by
# merge_sample, so every later stage reads one file per (mode, sample).  The events
# do not depend on the chunking (alpscan.generation.run).


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
        chunk=None,
        events_per_chunk=None,
        code=code_hash("generate_sample"),
    message:
        "Generating and reconstructing {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/generate_sample.py"


rule generate_chunk:
    output:
        candidates=temp("results/generation/{mode}/{sample}/chunk_{chunk}.parquet"),
        pairs=temp("results/generation/{mode}/{sample}/chunk_{chunk}_pairs.parquet"),
    log:
        "logs/generation/{mode}/{sample}/chunk_{chunk}.log",
    benchmark:
        "results/benchmarks/generation/{mode}/{sample}/chunk_{chunk}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="30m",
    params:
        cfg=generation_config,
        seed=config["seed"],
        chunk=lambda wildcards: int(wildcards.chunk),
        events_per_chunk=config["generation"]["events_per_chunk"],
        code=code_hash("generate_sample"),
    message:
        "Generating chunk {wildcards.chunk} of {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/generate_sample.py"


rule merge_sample:
    input:
        candidates=sample_chunks(""),
        pairs=sample_chunks("_pairs"),
    output:
        candidates="results/generation/{mode}/{sample}.parquet",
        pairs="results/generation/{mode}/{sample}_pairs.parquet",
    log:
        "logs/generation/{mode}/{sample}.merge.log",
    benchmark:
        "results/benchmarks/generation/{mode}/{sample}.merge.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="30m",
    params:
        code=code_hash("merge_sample"),
    message:
        "Concatenating the chunks of {wildcards.sample} for mode {wildcards.mode}"
    script:
        "../../scripts/merge_sample.py"


# A sample listed in config inputs is read from external ntuples instead (README,
# "Bring your own ntuples"): same outputs, so every later stage runs unchanged.  A
# sample in one chunk has no chunk files (sample_chunks), so merge_sample falls back
# to generate_sample.
ruleorder: import_sample > merge_sample > generate_sample


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
