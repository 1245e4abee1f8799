# Helpers shared by every stage file: config validation, targets, config slices and
# code hashes.  Rules pass scripts only the config slice they use (params), so a
# config change reruns exactly the rules that depend on it.
from pathlib import Path
from types import SimpleNamespace

from snakemake.utils import validate

import yaml

from alpscan.code_hash import code_hash as import_closure_hash
from alpscan.configuration import (
    check_config,
    check_cores,
    retype_command_line_config,
    validate_config,
)
from alpscan.generation.run import n_chunks as count_chunks
from alpscan.generation.samples import SIGNAL_SAMPLES, sample_names
from alpscan.ntuples import check_inputs, input_files

# nested --config values arrive as strings (YAML BaseLoader): read them as YAML does
retype_command_line_config(config, workflow.config_settings.config)
# concise errors naming the key first, then Snakemake's validation (fills defaults)
validate_config(
    config, yaml.safe_load(open(workflow.source_path("../../config/schema.yaml")))
)
validate(config, schema="../../config/schema.yaml", set_default=True)
check_config(config)

MODES = list(config["modes"])
ALL_SAMPLES = sample_names("Kp")  # the same list for every mode
SELECTED_SAMPLES = [s for s in ALL_SAMPLES if s != "signal_uniform"]
# external ntuples (config inputs): files, columns, types and metadata checked now,
# before any job runs; these samples are imported instead of generated
check_inputs(config["inputs"], MODES, ALL_SAMPLES)
IMPORTED = {(m, s) for m, samples in config["inputs"].items() for s in samples}


def code_hash(script):
    """Hash of the library modules ``scripts/<script>.py`` imports, directly or not
    (a change to any of them reruns the rule, and only those)."""
    base = Path(workflow.basedir)
    return import_closure_hash(base / "scripts" / f"{script}.py", base / "src")


def generation_config(wildcards):
    """Config slice of one generation job: signal samples do not depend on the
    luminosity, cross sections or background model, so changing those does not
    regenerate them."""
    gen = config["generation"]
    common = {
        "beam": config["beam"],
        "detector": config["detector"],
        "preselection": config["preselection"],
    }
    if wildcards.sample in SIGNAL_SAMPLES:
        slim = {
            "chunk_size": gen["chunk_size"],  # events per random-number block
            "signal": gen["signal"],
            "sim_tune": gen["sim_tune"],
            "model": gen["model"],
        }
        return common | {"generation": slim}
    luminosity = config["luminosity"]
    if wildcards.sample.startswith("offres_"):
        luminosity = {"off_resonance_fb": luminosity["off_resonance_fb"]}
    return common | {
        # events_per_chunk is a params entry of generate_chunk only: it does not change
        # the events, and a sample in one job does not use it
        "generation": {k: v for k, v in gen.items() if k != "events_per_chunk"},
        "luminosity": luminosity,
        "physics": config["physics"],
    }


_N_CHUNKS = {}


def generation_chunks(mode, sample):
    """Number of generate_chunk jobs of a generated sample (1: one generate_sample
    job), from its event count and generation.events_per_chunk."""
    key = (mode, sample)
    if key not in _N_CHUNKS:
        cfg = generation_config(SimpleNamespace(mode=mode, sample=sample))
        _N_CHUNKS[key] = count_chunks(
            mode,
            sample,
            cfg,
            config["seed"],
            config["generation"]["events_per_chunk"],
        )
    return _N_CHUNKS[key]


def sample_chunks(suffix):
    """Input function of merge_sample: the chunk files of a sample in several chunks;
    for a sample in one chunk a path no rule makes, so Snakemake falls back to
    generate_sample (ruleorder in generation.smk)."""

    def chunk_files(wildcards):
        n = generation_chunks(wildcards.mode, wildcards.sample)
        if n == 1:
            return [f"<{wildcards.mode}/{wildcards.sample} is generated in one job>"]
        return [
            f"results/generation/{wildcards.mode}/{wildcards.sample}/chunk_{i}{suffix}.parquet"
            for i in range(n)
        ]

    return chunk_files


def import_files(wildcards):
    """External files of an imported sample; for a generated one a path no rule makes,
    so Snakemake falls back to generate_sample (ruleorder in generation.smk)."""
    if (wildcards.mode, wildcards.sample) not in IMPORTED:
        return [f"<{wildcards.mode}/{wildcards.sample} is generated, not imported>"]
    return input_files(config["inputs"][wildcards.mode][wildcards.sample])


def import_regex(position):
    """Wildcard constraint of import_sample: the imported modes (0) or samples (1)."""
    names = sorted({key[position] for key in IMPORTED})
    return "|".join(names) if names else "(?!)"


def generation_outputs():
    return [
        f"results/generation/{mode}/{sample}.parquet"
        for mode in MODES
        for sample in ALL_SAMPLES
    ]


def get_final_output():
    return (
        generation_outputs()
        + ["results/generation/fidelity.json"]
        + mva_outputs()
        + selection_outputs()
        + signal_model_outputs()
        + scan_outputs()
        + limit_outputs()
        + results_outputs()
        + reuse_outputs()
    )


def mem_mb_by_attempt(base_mb):
    """Resource function: ``base_mb`` MB on the first attempt, scaled by the attempt
    number on retries (profiles/slurm sets ``retries``)."""

    def mem_mb(wildcards, attempt):
        return base_mb * attempt

    return mem_mb


VETO_MODEL_FILES = [
    f"{h}_{t}.json"
    for h in ("pi0", "eta")
    for t in ("same_vs_sig", "diff_vs_sig", "same_vs_diff")
] + ["veto.json"]
BACKGROUND_SIM = [f"continuum_{q}" for q in ("uu", "dd", "ss", "cc")] + [
    "bb_charged",
    "bb_neutral",
]


def background_inputs(wildcards):
    return expand(
        "results/generation/{mode}/{sample}.parquet",
        mode=wildcards.mode,
        sample=BACKGROUND_SIM,
    )


def background_pair_inputs(wildcards):
    return expand(
        "results/generation/{mode}/{sample}_pairs.parquet",
        mode=wildcards.mode,
        sample=BACKGROUND_SIM,
    )


def scored_background(wildcards):
    """Scored simulated on-resonance backgrounds of the job's mode."""
    return expand(
        "results/mva/{mode}/{sample}.parquet",
        mode=wildcards.mode,
        sample=BACKGROUND_SIM,
    )


def mva_outputs():
    return [
        f"results/mva/{mode}/{sample}.parquet"
        for mode in MODES
        for sample in ALL_SAMPLES
    ]


def selection_outputs():
    return [
        f"results/selection/{mode}/{sample}.parquet"
        for mode in MODES
        for sample in SELECTED_SAMPLES
    ] + [
        "results/selection/cuts.json",
        "results/selection/performance.json",
        "results/calibration/closure.parquet",
    ]


def config_subset(section, *keys):
    """The listed keys of one config section (a rule's params slice)."""
    return {key: config[section][key] for key in keys}


def signal_model_outputs():
    return [f"results/signal_model/{mode}.parquet" for mode in MODES] + [
        "results/figures/signal_model.png",
        "results/figures/longlived_efficiency.png",
    ]


def scan_stop(wildcards):
    """Upper end of the scan: 4.50 GeV for K modes, 4.20 GeV for K* modes [P]."""
    key = "m_stop_k_gev" if wildcards.mode in ("Kp", "K0S") else "m_stop_kstar_gev"
    return config["scan"][key]


def scan_outputs():
    return [f"results/scan/{mode}_fit.parquet" for mode in MODES] + [
        "results/scan/significance.json"
    ]


def toy_chunks(wildcards):
    """Toy-study chunks of one mode (config toys.n_chunks)."""
    return expand(
        "results/toys/{mode}/chunk_{chunk}.parquet",
        mode=wildcards.mode,
        chunk=range(config["toys"]["n_chunks"]),
    )


def control_modes():
    """Control channels (B -> K eta) among the analysed modes."""
    return [mode for mode in config["control"]["modes"] if mode in MODES]


def limit_outputs():
    return [f"results/scan/{mode}.parquet" for mode in MODES] + [
        "results/limits/gaw.parquet",
        "results/limits/gaw.csv",
        "results/limits/toy_cls.parquet",
    ]


PAPER_FIGURES = [
    "mgg_{mode}",
    "scan_yield_significance",
    "gaw_limit",
    "gaw_comparison",
    "br_limits",
    "toy_bias",
]


def paper_figures():
    names = [f for f in PAPER_FIGURES if "{mode}" not in f]
    names += [
        f.format(mode=mode) for f in PAPER_FIGURES if "{mode}" in f for mode in MODES
    ]
    # the PDF twin of every PNG is written by the same call (alpscan.plotting.style.save)
    return [f"results/figures/{name}.png" for name in names]


def results_outputs():
    return (
        ["results/summary.json", "results/control/eta.json"]
        + ["results/fidelity_targets.json", "results/figures/fidelity_targets.png"]
        + paper_figures()
    )


# Stage 6 (reuse.smk): the shipped models that alpscan recast runs on the record.
RECAST_MODELS = ["w-coupled", "photophilic"]


def reuse_outputs():
    return (
        [f"results/limits/{mode}_ctau.parquet" for mode in MODES]
        + [f"results/figures/ctau_limits_{mode}.png" for mode in MODES]
        + ["results/hepdata/submission.yaml", "results/hepdata.tar.gz"]
        + [f"results/recast/{model}.csv" for model in RECAST_MODELS]
    )
