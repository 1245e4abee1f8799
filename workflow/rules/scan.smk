# Stage 3b: mass scan (spec §7): scan points with step sigma_R, per-point extended
# unbinned fits of the pseudo-data in chunks of points, local and global significance.


rule peaking_shapes:
    input:
        expand(
            "results/selection/{{mode}}/peaking_{h}.parquet",
            h=("pi0", "eta", "etap", "etac"),
        ),
    output:
        "results/signal_model/{mode}_peaking.json",
    log:
        "logs/scan/{mode}/peaking_shapes.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        names=["pi0", "eta", "etap", "etac"],
        constraint_rel=config["scan"]["constraint_rel"],
        code=code_hash("peaking_shapes"),
    message:
        "Peaking-background shapes of mode {wildcards.mode}"
    script:
        "../../scripts/peaking_shapes.py"


rule scan_points:
    input:
        "results/signal_model/{mode}.parquet",
    output:
        "results/scan/{mode}/points.parquet",
    log:
        "logs/scan/{mode}/points.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        m_start=config["scan"]["m_start_gev"],
        m_stop=scan_stop,
        vetoes=config["scan"]["vetoes_gev"],
        code=code_hash("scan_points"),
    message:
        "Scan points of mode {wildcards.mode}"
    script:
        "../../scripts/scan_points.py"


rule scan_chunk:
    input:
        data="results/selection/{mode}/data.parquet",
        model="results/signal_model/{mode}.parquet",
        peaking="results/signal_model/{mode}_peaking.json",
        points="results/scan/{mode}/points.parquet",
    output:
        "results/scan/{mode}/chunk_{chunk}.parquet",
    log:
        "logs/scan/{mode}/chunk_{chunk}.log",
    benchmark:
        "results/benchmarks/scan/{mode}/chunk_{chunk}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1500),
        runtime="30m",
    params:
        n_chunks=config["scan"]["n_chunks"],
        window_width_factor=config["scan"]["window_width_factor"],
        code=code_hash("scan_chunk"),
    message:
        "Scan fits of mode {wildcards.mode}, chunk {wildcards.chunk}"
    script:
        "../../scripts/scan_chunk.py"


rule merge_scan:
    input:
        chunks=expand(
            "results/scan/{mode}/chunk_{chunk}.parquet",
            mode=MODES,
            chunk=range(config["scan"]["n_chunks"]),
        ),
        points=expand("results/scan/{mode}/points.parquet", mode=MODES),
    output:
        scans=expand("results/scan/{mode}_fit.parquet", mode=MODES),
        significance="results/scan/significance.json",
    log:
        "logs/scan/merge.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=MODES,
        z_ref=config["scan"]["gv_reference_z"],
        code=code_hash("merge_scan"),
    message:
        "Merging the scan chunks; global significance"
    script:
        "../../scripts/merge_scan.py"
