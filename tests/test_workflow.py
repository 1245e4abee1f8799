"""End-to-end: the test configuration through Snakemake, then partial-rerun checks.

A complete run of ``config/test.yaml`` in a temporary directory (a few minutes on 2
cores), then ``snakemake -n`` after configuration changes must schedule exactly the
rules that use the changed keys.  Marked ``workflow``; deselect with
``pytest -m "not workflow"`` for a quick library-only run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import ROOT

pytestmark = pytest.mark.workflow

GENERATION = {"generate_sample", "fidelity"}
MVA_ONWARD = {"train_continuum_suppression", "train_xsgamma", "score_mode", "calibrate", "calibration_closure",
              "optimise_cuts", "merge_cuts", "select_mode", "selection_performance", "signal_model",
              "signal_model_figures", "all"} | {"peaking_shapes", "scan_points", "scan_chunk", "merge_scan"}
SCAN = {"scan_points", "scan_chunk", "merge_scan"}


def snakemake(workdir, *args, extra_config=None, check=True):
    configs = [str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "test.yaml")]
    if extra_config is not None:
        path = workdir / "extra.yaml"
        path.write_text(yaml.safe_dump(extra_config))
        configs.append(str(path))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "--configfiles", *configs, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-5000:] + proc.stderr[-5000:])
    return proc


def scheduled_rules(workdir, extra_config=None) -> dict[str, int]:
    """Rules (and job counts) a dry run schedules."""
    out = snakemake(workdir, "-n", extra_config=extra_config).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("Reasons:")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("alpscan-run")
    snakemake(workdir)
    return workdir


def test_test_config_produces_every_output(completed_run):
    res = completed_run / "results"
    fidelity = json.loads((res / "generation" / "fidelity.json").read_text())
    assert set(fidelity["sigma_r"]) == {"Kp", "K0S", "Kst0", "Kstp"}
    cuts = json.loads((res / "selection" / "cuts.json").read_text())
    assert set(cuts) == {"Kp", "K0S", "Kst0", "Kstp"}
    perf = json.loads((res / "selection" / "performance.json").read_text())
    assert perf["average"]["cs1"]["background_rejection"] > 0.5
    model = pd.read_parquet(res / "signal_model" / "Kp.parquet")
    assert model["fit_valid"].mean() > 0.8
    assert np.all(np.diff(model["m_a"]) > 0)
    for fig in ("bdt_scores", "bdt_roc", "signal_efficiency", "calibration_closure", "signal_model",
                "longlived_efficiency"):
        assert (res / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (res / "figures" / f"{fig}.pdf").stat().st_size > 1000
    assert (res / "calibration" / "closure.parquet").exists()
    significance = json.loads((res / "scan" / "significance.json").read_text())
    for mode in ("Kp", "K0S", "Kst0", "Kstp"):
        scan = pd.read_parquet(res / "scan" / f"{mode}_fit.parquet")
        assert scan["m_a"].is_monotonic_increasing and scan["m_a"].iloc[0] == pytest.approx(0.160)
        assert significance["modes"][mode]["n_points"] == len(scan)
        assert significance["modes"][mode]["n_failed_fits"] == int((~scan["fit_ok"]).sum())
        assert not ((scan["m_a"] > 0.497) & (scan["m_a"] < 0.578)).any()


def test_untouched_config_schedules_nothing(completed_run):
    assert scheduled_rules(completed_run) == {}


def test_bdt_hyperparameter_change_reruns_mva_onward_only(completed_run):
    jobs = scheduled_rules(completed_run, {"mva": {"bdt": {"max_depth": 3}}})
    assert set(jobs) == MVA_ONWARD
    assert not GENERATION & set(jobs)


def test_grid_step_change_reruns_selection_only(completed_run):
    jobs = scheduled_rules(completed_run, {"selection": {"grid_step": 0.1}})
    assert set(jobs) == {"optimise_cuts", "merge_cuts", "select_mode", "selection_performance", "signal_model",
                         "signal_model_figures", "peaking_shapes", "all"} | SCAN


def test_fit_window_change_reruns_fits_but_no_generation_or_mva(completed_run):
    jobs = scheduled_rules(completed_run, {"scan": {"window_width_factor": 8.0}})
    assert set(jobs) == {"signal_model", "signal_model_figures", "all"} | SCAN


def test_chunk_count_change_reruns_scan_fits_only(completed_run):
    jobs = scheduled_rules(completed_run, {"scan": {"n_chunks": 3}})
    assert set(jobs) == {"scan_chunk", "merge_scan", "all"}
    assert jobs["scan_chunk"] == 4 * 3


def test_luminosity_change_regenerates_backgrounds_not_signal(completed_run):
    proc = snakemake(completed_run, "-n", "--summary", extra_config={"luminosity": {"on_resonance_fb": 80.0}},
                     check=False)
    jobs = scheduled_rules(completed_run, {"luminosity": {"on_resonance_fb": 80.0}})
    assert "generate_sample" in jobs and "fidelity" not in jobs
    n_modes, n_signal_samples, n_samples = 4, 3, 17
    # every non-signal sample except the off-resonance ones depends on the on-resonance luminosity
    assert jobs["generate_sample"] == n_modes * (n_samples - n_signal_samples - 2)
    assert proc.returncode == 0
