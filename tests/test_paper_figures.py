"""Paper figures (spec §10) on small synthetic inputs: valid PNG/PDF, NaN rows and empty frames,
and the BaBar g_aW curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from alpscan.plotting import mgg, paper
from alpscan.plotting.style import save

from .figure_inputs import BABAR_CSV, ETA_VETOES, MODES, SIM_NAMES, gaw_frame, scan_frame, toy_frame

VETOES = ETA_VETOES
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_saved(fig, tmp_path: Path, name: str) -> None:
    """Save with style.save; PNG signature, non-uniform pixels, and a PDF next to it."""
    png = tmp_path / f"{name}.png"
    save(fig, png)
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert np.ptp(image[..., :3]) > 0.1
    pdf = png.with_suffix(".pdf")
    assert pdf.stat().st_size > 500 and pdf.read_bytes()[:4] == b"%PDF"
    assert not plt.fignum_exists(fig.number)


def sim_samples(rng) -> dict:
    out = {}
    for i, name in enumerate(SIM_NAMES):
        n = 300 if name.startswith(("continuum", "bb")) else 40
        out[name] = (rng.uniform(0.05, 4.6, n), np.full(n, 0.2 + 0.05 * i))
    out["peaking_pi0"] = (rng.normal(0.135, 0.01, 80), np.ones(80))
    return out


def with_nan_rows(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    numeric = [c for c in out.columns if c not in ("m_a", "fit_ok", "n_modes")]
    out.loc[out.index[1], numeric] = np.nan
    out.loc[out.index[2], numeric] = np.inf
    out.loc[out.index[3], "m_a"] = np.nan
    return out


# ------------------------------------------------------------------- Fig. 2


def test_mgg_stack(tmp_path):
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.uniform(0.05, 4.6, 2000), [np.nan, np.inf]])
    for mode in ("Kp", "K0S"):
        check_saved(mgg.plot_mgg_stack(data, sim_samples(rng), mode), tmp_path, f"mgg_{mode}")


def test_mgg_grouping_follows_mode_charge():
    rng = np.random.default_rng(2)
    sim = {"bb_charged": (np.array([1.0]), np.array([1.0])),
           "peaking_eta": (np.array([0.55]), np.array([2.0])),
           "xsgamma": (np.array([2.0]), np.array([3.0])),
           "continuum_cc": (rng.uniform(size=4), np.ones(4))}
    charged = mgg.group_sim(sim, "Kstp")
    assert charged["BpBm"][1].sum() == 6.0 and charged["B0B0bar"][1].sum() == 0.0
    neutral = mgg.group_sim(sim, "Kst0")
    assert neutral["BpBm"][1].sum() == 1.0 and neutral["B0B0bar"][1].sum() == 5.0
    separate = mgg.group_sim(sim, "Kp", separate_other_b=True)
    assert separate["other_B"][1].sum() == 5.0 and separate["qqbar"][1].sum() == 4.0
    with pytest.raises(ValueError, match="unknown simulation sample"):
        mgg.group_sim({"signal": (np.ones(1), np.ones(1))}, "Kp")


def test_mgg_stack_empty_and_separate(tmp_path):
    empty = {name: (np.array([]), np.array([])) for name in ("continuum_uu", "bb_neutral")}
    check_saved(mgg.plot_mgg_stack(np.array([]), empty, "Kst0"), tmp_path, "mgg_empty")
    check_saved(mgg.plot_mgg_stack(None, {}, "Kstp", n_bins=20), tmp_path, "mgg_none")
    rng = np.random.default_rng(5)
    fig = mgg.plot_mgg_stack(rng.uniform(0.1, 4.5, 300), sim_samples(rng), "Kp",
                               separate_other_b=True)
    check_saved(fig, tmp_path, "mgg_sep")


# ------------------------------------------------------------------- Fig. 3


def test_scan(tmp_path):
    scans = {mode: scan_frame(i) for i, mode in enumerate(MODES)}
    check_saved(paper.plot_scan(scans, VETOES), tmp_path, "scan")


def test_scan_counts_failed_fits_in_legend():
    frame = scan_frame(0)
    frame["fit_ok"] = True
    frame.loc[[0, 5, 7], "fit_ok"] = False
    fig = paper.plot_scan({"Kp": frame}, VETOES)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "failed fits (not shown): 3" in texts
    line = fig.axes[1].lines[-1]
    assert len(line.get_xdata()) == len(frame) - 3
    plt.close(fig)


def test_scan_nan_and_empty(tmp_path):
    scans = {"Kp": with_nan_rows(scan_frame(0)), "K0S": scan_frame(1).iloc[:0],
             "Kst0": pd.DataFrame(), "Kstp": scan_frame(3)}
    check_saved(paper.plot_scan(scans, VETOES), tmp_path, "scan_nan")
    check_saved(paper.plot_scan({}, VETOES), tmp_path, "scan_empty")


# ------------------------------------------------------------------- Fig. 4, 5


def test_gaw_limit(tmp_path):
    check_saved(paper.plot_gaw_limit(gaw_frame(), VETOES, 2.9839), tmp_path, "gaw")


def test_gaw_limit_nan_and_empty(tmp_path):
    fig = paper.plot_gaw_limit(with_nan_rows(gaw_frame()), VETOES, 2.9839)
    check_saved(fig, tmp_path, "gaw_nan")
    check_saved(paper.plot_gaw_limit(gaw_frame().iloc[:0], VETOES, 2.9839), tmp_path, "gaw_empty")
    all_nan = gaw_frame()
    all_nan[[c for c in all_nan.columns if c.startswith("gaw_ul")]] = np.nan
    check_saved(paper.plot_gaw_limit(all_nan, VETOES), tmp_path, "gaw_all_nan")


def test_gaw_limit_breaks_at_vetoes():
    fig = paper.plot_gaw_limit(gaw_frame(), VETOES, 2.9839)
    obs = fig.axes[0].lines[-1]
    x = np.asarray(obs.get_xdata(), dtype=float)
    assert np.isnan(x).sum() == len(VETOES)
    plt.close(fig)


def test_babar_curve_range():
    curve = paper.babar_gaw_curve(BABAR_CSV)
    assert list(curve.columns) == ["m_a", "gaw_ul"]
    assert len(curve) == len(pd.read_csv(BABAR_CSV))
    # the digitisation marks the four edges of BaBar's eta/eta' vetoes with zero limits
    assert curve["gaw_ul"].isna().sum() == 4
    finite = curve.dropna()
    assert np.isfinite(finite["gaw_ul"]).all()
    bulk = finite[finite["m_a"] < 4.77]["gaw_ul"]
    assert bulk.between(3e-6, 5e-5).all()
    # the last digitised point (4.775 GeV) sits on BaBar's curve rising at the endpoint
    assert finite["gaw_ul"].max() < 6e-5
    assert 0.5e-5 < bulk.median() < 1.5e-5


def test_babar_curve_malformed(tmp_path):
    missing = tmp_path / "missing_column.csv"
    missing.write_text("m_a_GeV,limit\n0.2,1e-7\n")
    with pytest.raises(ValueError, match=r"missing_column\.csv.*br_ul_90cl"):
        paper.babar_gaw_curve(missing)
    text = tmp_path / "text.csv"
    text.write_text("m_a_GeV,br_ul_90cl\n0.2,1e-7\n0.3,abc\n")
    with pytest.raises(ValueError, match=r"text\.csv.*'br_ul_90cl'"):
        paper.babar_gaw_curve(text)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv"):
        paper.babar_gaw_curve(empty)
    negative = tmp_path / "negative.csv"
    negative.write_text("m_a_GeV,br_ul_90cl\n0.2,-1e-7\n")
    with pytest.raises(ValueError, match="negative"):
        paper.babar_gaw_curve(negative)


def test_gaw_comparison(tmp_path):
    babar = paper.babar_gaw_curve(BABAR_CSV)
    check_saved(paper.plot_gaw_comparison(gaw_frame(), babar), tmp_path, "comparison")
    fig = paper.plot_gaw_comparison(with_nan_rows(gaw_frame()), babar.iloc[:0], vetoes=VETOES)
    check_saved(fig, tmp_path, "comparison_nan")
    fig = paper.plot_gaw_comparison(pd.DataFrame(), pd.DataFrame())
    check_saved(fig, tmp_path, "comparison_empty")


# ------------------------------------------------------------------- appendix


def test_br_limits(tmp_path):
    scans = {mode: scan_frame(i) for i, mode in enumerate(MODES)}
    check_saved(paper.plot_br_limits(scans, vetoes=VETOES), tmp_path, "br")
    scans = {"Kp": with_nan_rows(scan_frame(0)), "K0S": pd.DataFrame()}
    check_saved(paper.plot_br_limits(scans), tmp_path, "br_nan")
    check_saved(paper.plot_br_limits({}), tmp_path, "br_empty")


def test_toy_bias(tmp_path):
    toys = {mode: toy_frame(i) for i, mode in enumerate(MODES)}
    check_saved(paper.plot_toy_bias(toys), tmp_path, "toys")
    toys = {"Kp": with_nan_rows(toy_frame(0)), "Kst0": toy_frame(1).iloc[:0]}
    check_saved(paper.plot_toy_bias(toys), tmp_path, "toys_nan")
    check_saved(paper.plot_toy_bias({}), tmp_path, "toys_empty")


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="significance"):
        paper.plot_scan({"Kp": scan_frame(0).drop(columns="significance")}, VETOES)
    plt.close("all")


def test_mgg_combinatorial_shape_above_1gev_is_a_fit():
    """Issue 19: above 1 GeV a few heavy combinatorial candidates are drawn as a fitted
    exponential (normalised to their Σw, every bin filled, band from √Σw² and the slope)."""
    rng = np.random.default_rng(8)
    edges = np.linspace(1.0, 4.5, 71)
    # many events: the slope is recovered
    m = 1.0 + rng.exponential(0.8, 20000)
    c, e, n = mgg.smoothed_exponential(m, np.full(m.size, 0.5), 1.0, 4.5, edges)
    inside = m <= 4.5
    assert n == inside.sum() and c.sum() == pytest.approx(0.5 * inside.sum())
    expect = 0.5 * np.histogram(m, edges)[0]
    assert np.all(np.abs(c - expect)[:20] < 4 * np.sqrt(0.25 * np.maximum(expect[:20] / 0.5, 1)))
    # ten candidates of weight 2.4: a smooth, falling shape with a large band, no empty bin
    few = 1.0 + rng.exponential(0.8, 10)
    c, e, n = mgg.smoothed_exponential(few, np.full(10, 2.4), 1.0, 4.5, edges)
    assert n == np.count_nonzero(few <= 4.5) and np.all(c > 0) and np.all(np.diff(c) < 0)
    assert c.sum() == pytest.approx(2.4 * n)
    assert np.all(e >= (1 - 1e-9) * c / np.sqrt(n))  # at least the 1/√N normalisation
    fig = mgg.plot_mgg_stack(None, {"continuum_uu": (few, np.full(10, 2.4))}, "Kp",
                               ranges=((1.0, 4.5),), n_bins=70)
    qq = [p for p in fig.axes[0].patches if p.get_label() == paper.GROUPS["qqbar"][0]][0]
    assert np.all(qq.get_data().values > 0)
    raw = mgg.plot_mgg_stack(None, {"continuum_uu": (few, np.full(10, 2.4))}, "Kp",
                               ranges=((1.0, 4.5),), n_bins=70, smooth_above=None)
    qq_raw = [p for p in raw.axes[0].patches if p.get_label() == paper.GROUPS["qqbar"][0]][0]
    assert np.count_nonzero(qq_raw.get_data().values) <= 10
    assert qq.get_data().values.sum() == pytest.approx(qq_raw.get_data().values.sum())
