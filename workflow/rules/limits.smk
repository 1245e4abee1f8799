# Stage 4b: CLs upper limits (spec §9): per mode on B(B -> K(*) a) B(a -> gamma gamma),
# the output-contract scan tables, and g_aW from the four modes combined.


rule limits_mode:
    input:
        data="results/selection/{mode}/data.parquet",
        model="results/signal_model/{mode}.parquet",
        peaking="results/signal_model/{mode}_peaking.json",
        fits="results/scan/{mode}_fit.parquet",
        toys=toy_chunks,
        points="results/scan/{mode}/points.parquet",
    output:
        scan="results/scan/{mode}.parquet",
        profiles="results/limits/{mode}_profiles.parquet",
    log:
        "logs/limits/{mode}.log",
    benchmark:
        "results/benchmarks/limits/{mode}.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="30m",
    params:
        physics=config_subset(
            "physics", "n_bb_pairs_ref", "lumi_ref_fb", "f_charged", "f_neutral"
        ),
        lumi_on_fb=config["luminosity"]["on_resonance_fb"],
        limits=config["limits"],
        seed=config["seed"],
        n_toys=config["toys"]["n_toys"],
        window_width_factor=config["scan"]["window_width_factor"],
        code=code_hash("limits_mode"),
    message:
        "CLs limits of mode {wildcards.mode}"
    script:
        "../../scripts/limits_mode.py"


rule limit_gaw:
    input:
        profiles=expand("results/limits/{mode}_profiles.parquet", mode=MODES),
        longlived=expand("results/signal_model/{mode}_longlived.parquet", mode=MODES),
        points="results/scan/{ref}/points.parquet".format(ref=MODES[0]),
    output:
        table="results/limits/gaw.parquet",
        csv="results/limits/gaw.csv",
    log:
        "logs/limits/gaw.log",
    benchmark:
        "results/benchmarks/limits/gaw.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="30m",
    params:
        modes=MODES,
        physics=config_subset(
            "physics", "n_bb_pairs_ref", "lumi_ref_fb", "f_charged", "f_neutral"
        ),
        lumi_on_fb=config["luminosity"]["on_resonance_fb"],
        limits=config_subset("limits", "cl", "efficiency_syst_rel"),
        code=code_hash("limit_gaw"),
    message:
        "g_aW limit from the {params.modes} modes combined"
    script:
        "../../scripts/limit_gaw.py"


rule toy_cls:
    input:
        data=expand("results/selection/{mode}/data.parquet", mode=MODES),
        models=expand("results/signal_model/{mode}.parquet", mode=MODES),
        peaking=expand("results/signal_model/{mode}_peaking.json", mode=MODES),
        scans=expand("results/scan/{mode}.parquet", mode=MODES),
    output:
        "results/limits/toy_cls.parquet",
    log:
        "logs/limits/toy_cls.log",
    benchmark:
        "results/benchmarks/limits/toy_cls.tsv"
    conda:
        "../../envs/alpscan.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_by_attempt(2000),
        runtime="30m",
    params:
        modes=MODES,
        toy_cls=config["toy_cls"],
        seed=config["seed"],
        physics=config_subset(
            "physics", "n_bb_pairs_ref", "lumi_ref_fb", "f_charged", "f_neutral"
        ),
        lumi_on_fb=config["luminosity"]["on_resonance_fb"],
        limits=config_subset("limits", "cl", "efficiency_syst_rel"),
        window_width_factor=config["scan"]["window_width_factor"],
        code=code_hash("toy_cls"),
    message:
        "Toy-based CLs at {params.toy_cls[masses_gev]} GeV"
    script:
        "../../scripts/toy_cls.py"
