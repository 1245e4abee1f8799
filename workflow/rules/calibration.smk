# Stage 2b: off-resonance calibration (spec §6): normalisation per mass region and
# classifier-based shape weights for the continuum simulation, with closure tests.


rule calibrate:
    input:
        offres_sim="results/mva/{mode}/offres_sim.parquet",
        offres_data="results/mva/{mode}/offres_data.parquet",
        continuum=expand(
            "results/mva/{{mode}}/{sample}.parquet",
            sample=BACKGROUND_SIM[:4],
        ),
        data="results/mva/{mode}/data.parquet",
    output:
        calibration="results/calibration/{mode}/calibration.json",
        reweighter="results/calibration/{mode}/reweighter.json",
        closure="results/calibration/{mode}/closure.parquet",
    log:
        "logs/calibration/{mode}.log",
    benchmark:
        "results/benchmarks/calibration/{mode}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="20m",
    params:
        calibration=config["calibration"],
        boundary=config["mva"]["boundary_gev"],
        seed=config["seed"],
        code=code_hash("calibrate"),
    message:
        "Off-resonance calibration of mode {wildcards.mode}"
    script:
        "../../scripts/calibrate.py"


rule calibration_closure:
    input:
        expand("results/calibration/{mode}/closure.parquet", mode=MODES),
    output:
        table="results/calibration/closure.parquet",
        figure=report(
            "results/figures/calibration_closure.png",
            caption="../report/calibration_closure.rst",
            category="2. Selection",
        ),
    log:
        "logs/calibration/closure.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        code=code_hash("calibration_closure"),
    message:
        "Calibration closure table and figure"
    script:
        "../../scripts/calibration_closure.py"
