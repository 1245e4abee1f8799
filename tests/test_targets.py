"""Tests of the fidelity targets' pass/fail logic, their figure and the tune's pieces."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from alpscan.plotting.targets import accepted_interval
from alpscan.validation import targets as tg


def test_relative_target_edges():
    ok = tg.target_status(8.97, 7.8, 0.15, relative=True)
    assert ok["pass"] and ok["difference"] == pytest.approx(0.15)
    assert tg.target_status(6.63, 7.8, 0.15, relative=True)["pass"]
    assert not tg.target_status(6.6, 7.8, 0.15, relative=True)["pass"]
    assert not tg.target_status(9.0, 7.8, 0.15, relative=True)["pass"]
    assert not tg.target_status(float("nan"), 7.8, 0.15, relative=True)["pass"]
    with pytest.raises(ValueError, match="non-zero"):
        tg.target_status(1.0, 0.0, 0.15, relative=True)


def test_absolute_target_edges():
    assert tg.target_status(0.767, 0.667, 0.10, relative=False)["pass"]
    assert tg.target_status(0.567, 0.667, 0.10, relative=False)["pass"]
    low = tg.target_status(0.56, 0.667, 0.10, relative=False)
    assert not low["pass"] and low["difference"] == pytest.approx(-0.107)
    assert not tg.target_status(0.78, 0.667, 0.10, relative=False)["pass"]


def test_range_target_is_widened_by_the_factor_on_both_sides():
    r = tg.range_status(0.07, 0.08, 0.16, 1.25)
    assert r["pass"] and r["accepted"] == pytest.approx([0.064, 0.20])
    assert tg.range_status(0.064, 0.08, 0.16, 1.25)["pass"]
    assert not tg.range_status(0.063, 0.08, 0.16, 1.25)["pass"]
    assert tg.range_status(0.20, 0.08, 0.16, 1.25)["pass"]
    assert not tg.range_status(0.201, 0.08, 0.16, 1.25)["pass"]
    assert not tg.range_status(0.36, 0.08, 0.16, 1.25)["pass"]  # today's K+ median
    with pytest.raises(ValueError):
        tg.range_status(0.1, 0.2, 0.1, 1.25)


def _performance(eff_kp, avg):
    return {
        "modes": {"Kp": {"final_efficiency": {"m_a_gev": [0.2, 1.0, 2.0, 3.0], "efficiency": eff_kp}}},
        "average": avg,
    }


def test_performance_targets_median_and_single_cut():
    avg = {k: dict(v) for k, v in tg.PAPER_SINGLE_CUT.items()}
    avg["cs2"]["background_rejection"] = 0.96  # today's toy: far from 0.311
    perf = _performance([0.30, 0.05, 0.11, 0.12], avg)
    t = {x["name"]: x for x in tg.performance_targets(perf)}
    med = t["final efficiency Kp (median)"]
    assert med["value"] == pytest.approx(0.115)  # median of an even count: mean of the middle two
    assert med["pass"]
    assert t["cs2 rejection"]["pass"] is False
    assert t["cs2 efficiency"]["pass"] and t["xsgamma rejection"]["pass"]
    assert len(t) == 1 + 2 * len(tg.PAPER_SINGLE_CUT)
    s = tg.target_summary(list(t.values()))
    assert s == {"n_targets": 11, "n_pass": 10, "n_fail": 1, "failing": ["cs2 rejection"]}
    perf["modes"]["Kp"]["final_efficiency"]["efficiency"] = [0.4, 0.36, 0.3]
    t = {x["name"]: x for x in tg.performance_targets(perf)}
    assert t["final efficiency Kp (median)"]["value"] == pytest.approx(0.36)
    assert not t["final efficiency Kp (median)"]["pass"]


def test_sigma_r_targets_from_fidelity_report():
    fid = {"sigma_r": {"Kp": [
        {"m_target_gev": 0.16, "available": True, "sigma_r_mev": 6.3, "paper_sigma_r_mev": 7.8},
        {"m_target_gev": 1.9, "available": True, "sigma_r_mev": 19.0, "paper_sigma_r_mev": 19.4},
        {"m_target_gev": 4.6, "available": False},
    ]}}
    t = tg.sigma_r_targets(fid, "Kp")
    assert [x["pass"] for x in t] == [False, True]
    assert t[0]["difference"] == pytest.approx(6.3 / 7.8 - 1)
    assert tg.sigma_r_targets(fid, "K0S") == []


def test_accepted_interval_matches_the_verdict():
    for t in (tg.target_status(7.0, 7.8, 0.15, True), tg.target_status(0.5, 0.667, 0.1, False),
              tg.range_status(0.05, 0.06, 0.11, 1.25)):
        lo, hi = accepted_interval(t)
        for x, inside in ((lo + 1e-6, True), (hi - 1e-6, True), (lo - 1e-3, False), (hi + 1e-3, False)):
            p = t["paper"]
            v = (tg.range_status(x, *p, t["widen"]) if "accepted" in t
                 else tg.target_status(x, p, t["tolerance"], t["relative"]))
            assert v["pass"] is inside


# ---------------------------------------------------------------------- the tune
def test_tune_objective_and_config_writer(tmp_path):
    from alpscan.tune import objective, set_key, stage_targets, write_config_values

    cfg = {"fidelity": {"paper_sigma_r_mev": [7.8, 19.4]},
           "detector": {"kinfit_k_error_scale": 1.0, "beam_background": {"mean_clusters": 4.0}}}
    exact = stage_targets("sigma_r", cfg, {"m_a_gev": [0.16, 1.9], "sigma_r_mev": [7.8, 19.4]}, "Kp", 0.15)
    assert objective(exact) == 0.0
    edge = stage_targets("sigma_r", cfg, {"m_a_gev": [0.16, 1.9], "sigma_r_mev": [7.8 * 1.15, 19.4]}, "Kp", 0.15)
    assert objective(edge) == pytest.approx(1.0) and all(t["pass"] for t in edge)
    cand = stage_targets("candidates", cfg, {"multiple_candidate_fraction": [0.4, 0.0],
                                             "correct_candidate_fraction": [0.8, 0.9]}, "Kp", None)
    assert [t["value"] for t in cand] == pytest.approx([0.2, 0.85])
    assert objective(cand) == pytest.approx(1.0)  # 0.05 off the paper's 25 %, at the tolerance
    with pytest.raises(ValueError, match="unknown tune target"):
        stage_targets("mbc", cfg, {}, "Kp", None)
    assert set_key(cfg, "detector.kinfit_k_error_scale", 5.0)["detector"]["kinfit_k_error_scale"] == 5.0
    deep = set_key(cfg, "detector.beam_background.mean_clusters", 2.0)
    assert deep["detector"]["beam_background"]["mean_clusters"] == 2.0
    assert cfg["detector"]["kinfit_k_error_scale"] == 1.0  # a copy
    assert cfg["detector"]["beam_background"]["mean_clusters"] == 4.0
    with pytest.raises(KeyError, match="not tunable"):
        set_key(cfg, "detector.photon_tail_scale", 2.0)
    path = tmp_path / "c.yaml"
    path.write_text("detector:\n  a: 1\n  kinfit_k_error_scale: 1.0           # errors [T]\n"
                    "  beam_background:      # [T]\n    mean_clusters: 4.0  # per event\n"
                    "    energy_scale_gev: 0.1\n  b: 2\nother:\n  kinfit_k_error_scale: 7\n  mean_clusters: 3\n")
    write_config_values(path, {"detector.kinfit_k_error_scale": 26.0,
                               "detector.beam_background.mean_clusters": 8.0}, "python -m alpscan.tune")
    text = path.read_text()
    assert yaml.safe_load(text) == {
        "detector": {"a": 1, "kinfit_k_error_scale": 26.0, "beam_background": {"mean_clusters": 8.0,
                                                                               "energy_scale_gev": 0.1}, "b": 2},
        "other": {"kinfit_k_error_scale": 7, "mean_clusters": 3}}
    assert "# errors [T] (tuned: python -m alpscan.tune)" in text
    assert "# per event (tuned: python -m alpscan.tune)" in text
    write_config_values(path, {"detector.kinfit_k_error_scale": 20.0}, "again")
    assert path.read_text().count("tuned: again") == 1 and path.read_text().count("tuned:") == 2
    with pytest.raises(KeyError, match="no block-style line"):
        write_config_values(path, {"detector.missing": 1.0}, "x")


def test_tune_on_a_tiny_configuration(default_config):
    """The tune's objective on a tiny grid: a loose kaon error model brings σ_R at 1.9
    and 4.5 GeV towards the paper, so the chosen point has a large scale and a lower
    objective than the untuned detector."""
    from alpscan.tune import run_tune

    tune = {"seed": 3, "mode": "Kp", "n_events_per_mass": 1500,
            "stages": [{"name": "resolution", "targets": "sigma_r", "tolerance": 0.15,
                        "parameters": {"detector.kinfit_k_error_scale": [1.0, 25.0]}}]}
    cfg = {**default_config, "detector": {**default_config["detector"], "kinfit_k_error_scale": 1.0}}
    table, chosen = run_tune(cfg, tune)
    assert len(table) == 2 and table["all_fits_valid"].all()
    assert chosen["values"] == {"detector.kinfit_k_error_scale": 25.0}
    assert chosen["before_values"] == {"detector.kinfit_k_error_scale": 1.0}
    assert chosen["objective"] < table.loc[0, "objective"]
    assert chosen["objective"] == pytest.approx(table["objective"].min())
    row = table.loc[1]
    assert row["sigma_r_mev@4.5"] > 2 * table.loc[0, "sigma_r_mev@4.5"]
    # the raw width hardly depends on the fit's error model (only through the best-χ²
    # choice among several candidates)
    assert row["sigma_r_before_fit_mev@1.9"] == pytest.approx(table.loc[0, "sigma_r_before_fit_mev@1.9"], rel=0.03)
    # "before" is the configuration's own point (scale 1), evaluated on the same events
    assert [t["before"] for t in chosen["targets"]] == pytest.approx(
        [table.loc[0, f"sigma_r_mev@{m:g}"] for m in (0.16, 1.9, 4.5)])
    assert [t["value"] for t in chosen["targets"]] == pytest.approx(
        [row[f"sigma_r_mev@{m:g}"] for m in (0.16, 1.9, 4.5)])
    assert all(math.isfinite(t["value"]) for t in chosen["targets"])
    assert np.isfinite(chosen["objective_before"])
