# Stage 4a: toy-MC bias study (spec §8): per scan point, pseudo-data drawn from the
# fitted pdf and refitted with the batched fitter, in chunks of points per mode.


rule toy_chunk:
    input:
        data="results/selection/{mode}/data.parquet",
        model="results/signal_model/{mode}.parquet",
        peaking="results/signal_model/{mode}_peaking.json",
        points="results/scan/{mode}/points.parquet",
    output:
        "results/toys/{mode}/chunk_{chunk}.parquet",
    log:
        "logs/toys/{mode}/chunk_{chunk}.log",
    benchmark:
        "results/benchmarks/toys/{mode}/chunk_{chunk}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="60m",
    params:
        n_toys=config["toys"]["n_toys"],
        n_chunks=config["toys"]["n_chunks"],
        seed=config["seed"],
        window_width_factor=config["scan"]["window_width_factor"],
        code=code_hash("toy_chunk"),
    message:
        "Toy-MC bias study of mode {wildcards.mode}, chunk {wildcards.chunk}"
    script:
        "../../scripts/toy_chunk.py"
