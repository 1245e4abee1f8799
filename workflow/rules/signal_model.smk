# Stage 3a: signal model (spec §7): DSCB fits of the selected prompt signal per grid
# mass, their interpolation in m_a, and the long-lived efficiency ratio vs c tau.


rule signal_model:
    input:
        prompt="results/selection/{mode}/signal_prompt.parquet",
        prompt_generated="results/generation/{mode}/signal_prompt.parquet",
        longlived="results/selection/{mode}/signal_longlived.parquet",
        longlived_generated="results/generation/{mode}/signal_longlived.parquet",
    output:
        model="results/signal_model/{mode}.parquet",
        longlived_points="results/signal_model/{mode}_longlived_points.parquet",
        longlived_fits="results/signal_model/{mode}_longlived.parquet",
    log:
        "logs/signal_model/{mode}.log",
    benchmark:
        "results/benchmarks/signal_model/{mode}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="20m",
    params:
        subdecay=config["physics"]["subdecay"],
        window_width_factor=config["scan"]["window_width_factor"],
        code=code_hash("signal_model"),
    message:
        "Signal model of mode {wildcards.mode}"
    script:
        "../../scripts/signal_model.py"


rule signal_model_figures:
    input:
        model=expand("results/signal_model/{mode}.parquet", mode=MODES),
        longlived_points=expand(
            "results/signal_model/{mode}_longlived_points.parquet", mode=MODES
        ),
        longlived_fits=expand(
            "results/signal_model/{mode}_longlived.parquet", mode=MODES
        ),
    output:
        parameters=report(
            "results/figures/signal_model.png",
            caption="../report/signal_model.rst",
            category="3. Signal model",
        ),
        longlived=report(
            "results/figures/longlived_efficiency.png",
            caption="../report/longlived_efficiency.rst",
            category="3. Signal model",
        ),
    log:
        "logs/signal_model/figures.log",
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(1000),
        runtime="10m",
    params:
        modes=MODES,
        code=code_hash("signal_model_figures"),
    message:
        "Signal-model figures"
    script:
        "../../scripts/signal_model_figures.py"
