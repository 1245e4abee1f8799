"""results/summary.json assembly and its JSON schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alpscan.summary import build_summary, clean_json, validate_summary

from .conftest import ROOT

SCHEMA = ROOT / "workflow" / "schemas" / "summary.schema.json"


def scan_frame(prefix="br_ul"):
    m = np.array([0.2, 1.5, 2.5, 3.0])
    cols = {f"{prefix}_obs": [1e-7, np.nan, 3e-8, 2e-8], f"{prefix}_exp": [2e-7, np.nan, 4e-8, 3e-8]}
    return pd.DataFrame({"m_a": m, **cols})


def inputs():
    toys = pd.DataFrame({"m_a": [0.2, 1.5], "bias": [-0.05, 0.01], "pull_width": [1.0, 1.1],
                         "fit_ok": [True, True]})
    closure = pd.DataFrame({"mode": ["Kp", "Kp"], "comparison": ["offres_sim_vs_data_before",
                            "offres_sim_vs_data_after"], "chi2_ndf": [1.7, 1.1]})
    sig = {"modes": {"Kp": {"n_points": 4, "n_failed_fits": 0, "max_local_significance": 2.1,
                            "m_a_at_max_gev": 1.5}},
           "global": {"p_global": 0.6, "z_global": -0.2, "z_ref": 0.5, "n_upcross_ref": 10.0}}
    run = {"seed": 1, "modes": ["Kp"], "luminosity_on_fb": 711.0, "luminosity_off_fb": 89.0,
           "n_bb_pairs": 7.72e8, "n_toys_per_point": 100, "cl": 0.9}
    control = {"Kp": {"branching_fraction": 2.5e-6, "error": 0.5e-6, "input": 2.4e-6, "pull": 0.2,
                      "fit_ok": True}}
    return dict(run=run, significance=sig, scans={"Kp": scan_frame()}, toys={"Kp": toys},
                gaw=scan_frame("gaw_ul"), closure=closure, control=control)


def test_summary_validates_and_has_headline_numbers(tmp_path):
    s = build_summary(**inputs())
    validate_summary(s, SCHEMA)
    assert s["limits"]["branching_fraction"]["Kp"]["n_valid"] == 3
    assert s["limits"]["branching_fraction"]["Kp"]["obs_min"] == pytest.approx(2e-8)
    assert s["limits"]["gaw"]["obs_above_2gev_max"] == pytest.approx(3e-8)
    assert s["toys"]["mean_bias"] == pytest.approx(-0.02)
    assert s["scan"]["largest_local_excess"] == {"mode": "Kp", "m_a_gev": 1.5, "local_significance": 2.1}
    assert s["calibration"]["Kp"]["offres_chi2_ndf_after"] == pytest.approx(1.1)
    # JSON-serialisable without NaN
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s


def test_schema_rejects_broken_summary():
    s = build_summary(**inputs())
    del s["limits"]["gaw"]
    with pytest.raises(ValueError, match="limits"):
        validate_summary(s, SCHEMA)
    s = build_summary(**inputs())
    s["run"]["modes"] = ["Kx"]
    with pytest.raises(ValueError, match="run.modes"):
        validate_summary(s, SCHEMA)


def test_clean_json_maps_non_finite_to_null():
    assert clean_json({"a": np.float64(np.nan), "b": [np.int64(2), np.inf], "c": np.bool_(True)}) == {
        "a": None, "b": [2, None], "c": True}
