# Stage 2c: Punzi-optimised selection (spec §5) and the selected candidates.


rule optimise_cuts:
    input:
        signal="results/mva/{mode}/signal_prompt.parquet",
        background=scored_background,
        xsgamma="results/mva/{mode}/xsgamma.parquet",
        calibration=rules.calibrate.output.calibration,
        reweighter=rules.calibrate.output.reweighter,
    output:
        "results/selection/{mode}/cuts.json",
    log:
        "logs/selection/{mode}/optimise_cuts.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="20m",
    params:
        selection=config["selection"],
        boundary=config["mva"]["boundary_gev"],
        code=code_hash("optimise_cuts"),
    message:
        "Punzi optimisation for mode {wildcards.mode}"
    script:
        "../../scripts/optimise_cuts.py"


rule merge_cuts:
    input:
        expand("results/selection/{mode}/cuts.json", mode=MODES),
    output:
        "results/selection/cuts.json",
    log:
        "logs/selection/merge_cuts.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(500),
        runtime="5m",
    params:
        modes=MODES,
        code=code_hash("merge_cuts"),
    message:
        "Collecting the cuts of all modes"
    script:
        "../../scripts/merge_cuts.py"


rule select_mode:
    input:
        scored=expand("results/mva/{{mode}}/{sample}.parquet", sample=SELECTED_SAMPLES),
        cuts="results/selection/{mode}/cuts.json",
        calibration=rules.calibrate.output.calibration,
        reweighter=rules.calibrate.output.reweighter,
    output:
        expand("results/selection/{{mode}}/{sample}.parquet", sample=SELECTED_SAMPLES),
    log:
        "logs/selection/{mode}/select.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="20m",
    params:
        boundary=config["mva"]["boundary_gev"],
        samples=SELECTED_SAMPLES,
        code=code_hash("select_mode"),
    message:
        "Selecting every sample of mode {wildcards.mode}"
    script:
        "../../scripts/select_mode.py"


rule selection_performance:
    input:
        cuts="results/selection/cuts.json",
        signal=expand("results/mva/{mode}/signal_prompt.parquet", mode=MODES),
        background=expand(
            "results/mva/{mode}/{sample}.parquet", mode=MODES, sample=BACKGROUND_SIM
        ),
        selected_signal=expand(
            "results/selection/{mode}/signal_prompt.parquet", mode=MODES
        ),
        generated_signal=expand(
            "results/generation/{mode}/signal_prompt.parquet", mode=MODES
        ),
    output:
        performance=report(
            "results/selection/performance.json",
            caption="../report/performance.rst",
            category="2. Selection",
        ),
        scores=report(
            "results/figures/bdt_scores.png",
            caption="../report/bdt_scores.rst",
            category="2. Selection",
        ),
        roc=report(
            "results/figures/bdt_roc.png",
            caption="../report/bdt_roc.rst",
            category="2. Selection",
        ),
        efficiency=report(
            "results/figures/signal_efficiency.png",
            caption="../report/signal_efficiency.rst",
            category="2. Selection",
        ),
    log:
        "logs/selection/performance.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(3000),
        runtime="20m",
    params:
        modes=MODES,
        background=BACKGROUND_SIM,
        boundary=config["mva"]["boundary_gev"],
        subdecay=config["physics"]["subdecay"],
        code=code_hash("selection_performance"),
    message:
        "Selection performance table and figures"
    script:
        "../../scripts/selection_performance.py"
