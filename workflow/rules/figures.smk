# Stage 5b: the paper's figures (spec §10), PNG (declared) and PDF twins.


rule figure_mgg:
    input:
        data="results/selection/{mode}/data.parquet",
        sim=expand(
            "results/selection/{{mode}}/{sample}.parquet",
            sample=BACKGROUND_SIM
            + [f"peaking_{h}" for h in ("pi0", "eta", "etap", "etac")]
            + ["xsgamma"],
        ),
    output:
        report(
            "results/figures/mgg_{mode}.png",
            caption="../report/mgg.rst",
            category="5. Results",
            subcategory="M_gg spectra",
            labels={"mode": "{mode}"},
        ),
    log:
        "logs/figures/mgg_{mode}.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1500),
        runtime="10m",
    params:
        samples=BACKGROUND_SIM
        + [f"peaking_{h}" for h in ("pi0", "eta", "etap", "etac")]
        + ["xsgamma"],
        code=code_hash("figure_mgg"),
    message:
        "Figure 2: M_gg spectrum of mode {wildcards.mode}"
    script:
        "../../scripts/figure_mgg.py"


rule figure_scan:
    input:
        scans=expand("results/scan/{mode}.parquet", mode=MODES),
        fits=expand("results/scan/{mode}_fit.parquet", mode=MODES),
    output:
        scan=report(
            "results/figures/scan_yield_significance.png",
            caption="../report/scan_yield_significance.rst",
            category="4. Scan, toys and limits",
        ),
        limits=report(
            "results/figures/br_limits.png",
            caption="../report/br_limits.rst",
            category="4. Scan, toys and limits",
        ),
    log:
        "logs/figures/scan.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=MODES,
        vetoes=config["scan"]["vetoes_gev"],
        m_start=config["scan"]["m_start_gev"],
        code=code_hash("figure_scan"),
    message:
        "Figure 3 and the branching-fraction limits"
    script:
        "../../scripts/figure_scan.py"


rule figure_gaw:
    input:
        gaw="results/limits/gaw.parquet",
        babar=workflow.source_path("../../resources/babar-2111.01800-prompt-limit.csv"),
        # the K+ prompt limit, converted to g_aW as BaBar's is (like-for-like curve)
        prompt=[f"results/scan/{mode}.parquet" for mode in MODES if mode == "Kp"],
    output:
        limit=report(
            "results/figures/gaw_limit.png",
            caption="../report/gaw_limit.rst",
            category="5. Results",
        ),
        comparison=report(
            "results/figures/gaw_comparison.png",
            caption="../report/gaw_comparison.rst",
            category="5. Results",
        ),
    log:
        "logs/figures/gaw.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        vetoes=config["scan"]["vetoes_gev"],
        m_start=config["scan"]["m_start_gev"],
        code=code_hash("figure_gaw"),
    message:
        "Figures 4 and 5: the g_aW limit"
    script:
        "../../scripts/figure_gaw.py"


rule figure_toys:
    input:
        toys=expand(
            "results/toys/{mode}/chunk_{chunk}.parquet",
            mode=MODES,
            chunk=range(config["toys"]["n_chunks"]),
        ),
        points=expand("results/scan/{mode}/points.parquet", mode=MODES),
    output:
        report(
            "results/figures/toy_bias.png",
            caption="../report/toy_bias.rst",
            category="4. Scan, toys and limits",
        ),
    log:
        "logs/figures/toys.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=MODES,
        n_toys=config["toys"]["n_toys"],
        code=code_hash("figure_toys"),
    message:
        "Toy-MC bias and pulls"
    script:
        "../../scripts/figure_toys.py"
