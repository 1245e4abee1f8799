"""Reusable results on a small synthetic run: (m_a, cτ) limits, the HEPData record (validated
by hepdata-validator), the recast from the record, and the ``alpscan`` command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alpscan.cli import format_summary, main
from alpscan.reuse.hepdata import TOY_NOTE, read_record, record_table, validate_record, write_record
from alpscan.reuse.lifetime import PAPER_CTAU_MM, ctau_grid_mm, ctau_limit_table
from alpscan.reuse.recast import load_likelihood, load_model, recast
from alpscan.stats.limits import ProfileCurve, yield_limits
from alpscan.stats.limit_tables import _curve_columns, gaw_table, longlived_ratio_function


def longlived_ratio_at(m_a, ctau_mm, ll_table):
    """r(m_a, cτ) of one long-lived fit table (the workflow's g_aW uses the same function)."""
    return np.asarray(longlived_ratio_function(m_a, ll_table)(np.asarray(ctau_mm, float)))

MODES = ("Kp", "Kst0")
PHYSICS = {"n_bb_pairs_ref": 772e6, "lumi_ref_fb": 711.0, "f_charged": 0.514, "f_neutral": 0.486}
N_BB = 772e6 * 40.0 / 711.0
SIGMA_EFF, CL = 0.223, 0.9


def _parabola(center: float, width: float, lo: float, hi: float, offset: float) -> ProfileCurve:
    grid = np.linspace(lo, hi, 40)
    return ProfileCurve(grid, offset + 0.5 * ((grid - center) / width) ** 2, center, offset)


def synthetic_run(seed: int = 1):
    """Scan tables, profiles and long-lived tables of two modes with known parabolic curves."""
    rng = np.random.default_rng(seed)
    scans, profiles, ll_fits, ll_points = {}, {}, {}, {}
    for j, mode in enumerate(MODES):
        m_a = np.linspace(0.3, 3.0, 10) + 0.01 * j
        rows, prof = [], []
        for i, m in enumerate(m_a):
            width = 2.0 + m
            n_hat = rng.normal(0.0, width)
            obs = _parabola(n_hat, width, min(n_hat, 0) - 2 * width, max(n_hat, 0) + 12 * width,
                            100.0 + i)
            asi = _parabola(0.0, width, -2 * width, 12 * width, 50.0)
            eff = 0.1 + 0.02 * m
            k = 2.0 * N_BB * (0.514 if mode == "Kp" else 0.486) * eff
            bias = 0.05 * width
            ok = i != 4  # one failed point per mode
            lim = yield_limits(obs, asi, bias_events=bias, sigma_eff=SIGMA_EFF, cl=CL)
            lim = lim.scaled(1.0 / k).as_dict("br_ul")
            rows.append({"m_a": m, "efficiency": eff, "fit_ok": ok,
                         **{c: (v if ok else np.nan) for c, v in lim.items()}})
            prof.append({"m_a": m, "efficiency": eff, "k_events_per_br": k, "bias_events": bias,
                         "sigma_r": 0.01 + 0.005 * m, "ok": ok, **_curve_columns("obs", obs),
                         **_curve_columns("asimov", asi)})
        scans[mode], profiles[mode] = pd.DataFrame(rows), pd.DataFrame(prof)
        ll_fits[mode] = pd.DataFrame({"m_a": [0.6, 2.5], "c0_mm": [40.0, 90.0], "p": [1.3, 1.1],
                                      "q": [1.0, 1.4], "fit_ok": [True, True]})
        c = np.array([10.0, 50.0, 200.0, 400.0])
        pts = [pd.DataFrame({"m_a": m, "ctau_mm": c,
                             "ratio": longlived_ratio_at(m, c, ll_fits[mode]) * 1.02,
                             "ratio_err": np.full(4, 0.03)}) for m in (0.6, 2.5)]
        ll_points[mode] = pd.concat(pts, ignore_index=True)
    gaw = gaw_table(profiles, ll_fits, profiles["Kp"]["m_a"].to_numpy(), n_bb=N_BB,
                    physics=PHYSICS, sigma_eff=SIGMA_EFF, cl=CL)
    return scans, profiles, ll_fits, ll_points, gaw


@pytest.fixture(scope="module")
def run():
    return synthetic_run()


@pytest.fixture(scope="module")
def record(run, tmp_path_factory):
    scans, profiles, ll_fits, ll_points, gaw = run
    grid = ctau_grid_mm()
    ctau = {m: ctau_limit_table(scans[m], ll_fits[m], grid, 400.0) for m in MODES}
    out = tmp_path_factory.mktemp("rec") / "hepdata"
    write_record(out, modes=MODES, scans=scans, profiles=profiles, ctau_limits=ctau,
                 longlived_points=ll_points, longlived_fits=ll_fits, gaw=gaw, cl=CL,
                 sigma_eff=SIGMA_EFF, tarball=out.parent / "hepdata.tar.gz")
    return out


def test_ctau_grid_spans_prompt_to_a_metre_with_the_paper_values():
    grid = ctau_grid_mm()
    assert grid[0] == 0.0 and grid[-1] >= 1000.0 and np.all(np.diff(grid) > 0)
    assert set(PAPER_CTAU_MM) <= set(grid.tolist())
    with pytest.raises(ValueError, match="ctau_min_mm"):
        ctau_grid_mm(10.0, 1.0)


def test_ctau_limits_are_prompt_limits_over_r(run):
    scans, _, ll_fits, _, _ = run
    grid = ctau_grid_mm()
    table = ctau_limit_table(scans["Kp"], ll_fits["Kp"], grid, 400.0)
    ok = scans["Kp"][scans["Kp"]["fit_ok"]]
    assert len(table) == len(ok) * grid.size
    prompt = table[table["ctau_mm"] == 0].set_index("m_a")
    np.testing.assert_allclose(prompt["br_ul_obs"], ok.set_index("m_a")["br_ul_obs"], rtol=1e-14)
    for m in ok["m_a"]:
        rows = table[table["m_a"] == m]
        r = longlived_ratio_at(m, rows["ctau_mm"].to_numpy(), ll_fits["Kp"])
        np.testing.assert_allclose(rows["br_ul_exp_p2"] * r, rows["br_ul_exp_p2"].iloc[0])
        assert np.all(np.diff(rows["br_ul_obs"]) > 0)  # longer-lived: weaker limit
    assert table["extrapolated"].to_numpy().tolist() == (table["ctau_mm"] > 400).tolist()
    with pytest.raises(ValueError, match="br_ul_obs"):
        ctau_limit_table(scans["Kp"].drop(columns="br_ul_obs"), ll_fits["Kp"], grid, 400.0)


def test_record_validates_and_says_toy(record):
    assert validate_record(record) == []
    assert (record.parent / "hepdata.tar.gz").stat().st_size > 0
    tables = read_record(record)
    expected = {f"{t} {m}" for m in MODES for t in (
        "Branching fraction limits", "Signal efficiency", "Lifetime limits", "Long-lived ratio",
        "Long-lived ratio fit", "Likelihood points", "Profile likelihood observed",
        "Profile likelihood Asimov")} | {"g_aW limits"}
    assert set(tables) == expected
    assert all(TOY_NOTE in t["description"] and "not Belle data" in t["description"]
               for t in tables.values())


def test_record_tables_round_trip(run, record):
    scans, profiles, _, _, gaw = run
    br, quals = record_table(record, "Branching fraction limits Kst0")
    ok = scans["Kst0"][scans["Kst0"]["fit_ok"]].reset_index(drop=True)
    assert quals["CL"] == "90%"
    for col in ("m_a", "br_ul_obs", "br_ul_exp_m2", "br_ul_exp_p2"):
        np.testing.assert_allclose(br[col], ok[col], rtol=1e-9)
    back, _ = record_table(record, "g_aW limits")
    np.testing.assert_allclose(back["gaw_ul_exp_p1"], gaw["gaw_ul_exp_p1"].dropna(), rtol=1e-9)
    curve, _ = record_table(record, "Profile likelihood observed Kp")
    assert len(curve) == 9 * 40  # the failed point is not published
    with pytest.raises(KeyError, match="no table"):
        record_table(record, "Branching fraction limits Kstp")


def test_recast_of_w_model_reproduces_gaw(run, record):
    gaw = run[4].dropna()
    res = recast(load_likelihood(record), load_model("w-coupled"))
    assert len(res) == len(gaw)
    for col in ("ul_obs", "ul_exp", "ul_exp_m2", "ul_exp_p2"):
        rel = res[f"poi_{col}"].to_numpy() / gaw[f"gaw_{col}"].to_numpy() - 1.0
        assert np.max(np.abs(rel)) < 1e-3, col


def test_recast_photophilic_weaker_when_long_lived(record):
    model = load_model("photophilic")
    lik = load_likelihood(record, ["Kp"])
    masses = lik.modes["Kp"].points["m_a"].to_numpy()[:2]  # 0.3, 0.6 GeV: long-lived at small g_agg
    res = recast(lik, model, masses=masses)
    assert set(res["scan"]) == set(model.SCAN["values"])
    for m in masses:
        lim = res[res["m_a"] == m].sort_values("scan")["poi_ul_obs"].to_numpy()
        assert np.all(np.isfinite(lim)) and np.all(np.diff(lim) <= 1e-12 * lim[:-1])
        assert lim[0] > 1.5 * lim[-1]  # the smallest g_agg gives the longest-lived ALP


def test_cli_recast_writes_table_and_figure(record, tmp_path, capsys):
    assert main(["recast", "w-coupled", "--record", str(record), "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "vs the record's g_aW table" in text
    table = pd.read_csv(tmp_path / "w-coupled.csv")
    assert "g_aW_ul_obs" in table.columns and np.isfinite(table["g_aW_ul_obs"]).sum() >= 8
    assert (tmp_path / "w-coupled.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_errors(record, tmp_path, capsys):
    assert main(["recast", "w-coupled", "--record", str(tmp_path / "none")]) == 2
    assert "no HEPData record" in capsys.readouterr().err
    assert main(["recast", "w-coupled", "--record", str(record), "--modes", "Kp,Kx"]) == 2
    assert "unknown mode(s) ['Kx']" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("NAME = 'half a model'\nPOI = {'name': 'g', 'units': '', 'label': 'g', "
                   "'reference': 1.0}\ndef ctau_mm(m_a, poi, scan=None):\n    return 0 * poi\n")
    assert main(["recast", str(bad), "--record", str(record)]) == 2
    assert "branching_fraction(...) is missing" in capsys.readouterr().err
    neg = tmp_path / "neg.py"
    neg.write_text(bad.read_text() + "def branching_fraction(mode, m_a, poi, scan=None):\n"
                   "    return -poi\n")
    assert main(["recast", str(neg), "--record", str(record), "--out", str(tmp_path)]) == 2
    assert "negative or NaN" in capsys.readouterr().err
    assert main(["recast", "axion-of-my-dreams"]) == 2
    assert "neither a shipped model" in capsys.readouterr().err
    assert main(["summary", "--run", str(tmp_path / "none")]) == 2
    assert "no finished run" in capsys.readouterr().err


def test_summary_text(tmp_path, capsys):
    limit = {"n_valid": 3, "obs_min": 1.5e-7, "obs_max": 4.25e-6, "exp_median_min": 2e-7,
             "exp_median_max": 3e-6}
    summary = {
        "run": {"alpscan_version": "0.1.0", "seed": 7, "modes": ["Kp"], "luminosity_on_fb": 40.0,
                "luminosity_off_fb": 6.0, "n_bb_pairs": 4.3e7, "cl": 0.9},
        "scan": {"largest_local_excess": {"mode": "Kp", "m_a_gev": 1.234, "local_significance": 2.5},
                 "global": {"p_global": 0.4, "z_global": 0.25}},
        "limits": {"branching_fraction": {"Kp": limit}, "gaw": {**limit, "obs_min": 3.3e-6}},
        "control_modes": {"Kp": {"branching_fraction": 2.1e-6, "error": 4e-7, "input": 2.0e-6,
                                 "pull": 0.25}},
    }
    text = format_summary(summary)
    assert "2.50 sigma in Kp at m_a = 1.2340 GeV" in text and "0.25 sigma" in text
    assert "Kp    1.5e-07 .. 4.25e-06 (3 points)" in text and "g_aW [GeV^-1], observed: 3.3e-06" in text
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert main(["summary", "--run", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == text
    (tmp_path / "summary.json").write_text("{}")
    assert main(["summary", "--run", str(tmp_path)]) == 2
