# Stage 5a: control modes and the results summary (spec §7, §11).


rule control_eta:
    input:
        data=expand("results/selection/{mode}/data.parquet", mode=control_modes()),
        peaking=expand("results/signal_model/{mode}_peaking.json", mode=control_modes()),
    output:
        "results/control/eta.json",
    log:
        "logs/results/control_eta.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=control_modes(),
        window=config["control"]["eta_window_gev"],
        br_input={
            mode: config["physics"]["peaking_bf"]["eta"][mode]
            for mode in control_modes()
        },
        code=code_hash("control_eta"),
    message:
        "B -> K eta control modes {params.modes}"
    script:
        "../../scripts/control_eta.py"


rule summary:
    input:
        significance="results/scan/significance.json",
        scans=expand("results/scan/{mode}.parquet", mode=MODES),
        toys=expand(
            "results/toys/{mode}/chunk_{chunk}.parquet",
            mode=MODES,
            chunk=range(config["toys"]["n_chunks"]),
        ),
        points=expand("results/scan/{mode}/points.parquet", mode=MODES),
        gaw="results/limits/gaw.parquet",
        toy_cls="results/limits/toy_cls.parquet",
        closure="results/calibration/closure.parquet",
        control="results/control/eta.json",
        schema=workflow.source_path("../schemas/summary.schema.json"),
    output:
        report(
            "results/summary.json",
            caption="../report/summary.rst",
            category="5. Results",
        ),
    log:
        "logs/results/summary.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=MODES,
        run={
            "seed": config["seed"],
            "modes": MODES,
            "luminosity_on_fb": config["luminosity"]["on_resonance_fb"],
            "luminosity_off_fb": config["luminosity"]["off_resonance_fb"],
            "n_bb_pairs": config["physics"]["n_bb_pairs_ref"]
            * config["luminosity"]["on_resonance_fb"]
            / config["physics"]["lumi_ref_fb"],
            "n_toys_per_point": config["toys"]["n_toys"],
            "cl": config["limits"]["cl"],
        },
        code=code_hash("summary"),
    message:
        "Results summary"
    script:
        "../../scripts/summary.py"


rule fidelity_targets:
    input:
        fidelity="results/generation/fidelity.json",
        performance="results/selection/performance.json",
    output:
        table="results/fidelity_targets.json",
        figure=report(
            "results/figures/fidelity_targets.png",
            caption="../report/fidelity_targets.rst",
            category="1. Generation",
        ),
    log:
        "logs/results/fidelity_targets.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        code=code_hash("fidelity_targets"),
    message:
        "Fidelity targets of the toy against the paper"
    script:
        "../../scripts/fidelity_targets.py"
