"""Every figure of the workflow rendered on small synthetic inputs and checked as a referee
would: no text outside the canvas, no overlapping labels, no squashed axes, legends inside
their axes and off the data (:func:`alpscan.plotting.layout.layout_problems`), log axes and
veto bands where the paper has them, and the "failed fits" count of Fig. 3 from the same
function as ``summary.json``.

The ``alpscan.plotting.mva`` and ``signal_model`` functions save to a path; ``render`` runs
them with ``save`` replaced by a capture, so the figure is checked exactly as built.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Polygon, Rectangle

from alpscan.fitting.dscb import N_LIMITS
from alpscan.plotting import mgg, mva, paper, style
from alpscan.plotting import signal_model as sm_plot
from alpscan.plotting.layout import layout_problems
from alpscan import summary

from .figure_inputs import (BABAR_CSV, ETA_VETOES, M_START, MODES, SIM_NAMES, gaw_frame,
                            scan_frame, toy_frame)

VETOES = [(0.0, M_START), *ETA_VETOES]  # what paper.veto_windows(ETA_VETOES, M_START) gives


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")


def render(monkeypatch, module, fn, *args):
    """Run a figure function of ``module`` that saves to a path; return the Figure it built."""
    captured = []
    capture = lambda fig, path, **kwargs: captured.append(fig)  # noqa: E731
    monkeypatch.setattr(style, "save", capture)  # style.save_panels saves through it
    if hasattr(module, "save"):
        monkeypatch.setattr(module, "save", capture)
    fn(*args, "unused.png")
    assert len(captured) == 1
    return captured[0]


def assert_clean(fig):
    problems = layout_problems(fig)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------- synthetic inputs


def sim_and_data(rng, mode: str):
    """A Fig. 2 input like the toy's: a π⁰ peak 100× the continuum, few weighted events
    above 1 GeV."""
    sim = {}
    for name in SIM_NAMES:
        if name.startswith("continuum"):
            m = np.concatenate([rng.exponential(0.25, 600) + 0.1, rng.uniform(1.0, 4.5, 4)])
        elif name.startswith("bb"):
            m = np.concatenate([rng.normal(0.135, 0.006, 3000), rng.uniform(0.1, 1.0, 300)])
        elif name == "peaking_pi0":
            m = rng.normal(0.135, 0.006, 2000)
        else:
            m = rng.uniform(0.1, 4.5, 20)
        sim[name] = (m, np.full(m.size, 2.4))
    data = np.concatenate([rng.normal(0.135, 0.006, 15000), rng.exponential(0.25, 3000) + 0.1,
                           rng.uniform(1.0, 4.5, 40)])
    return data, sim


def signal_table(seed: int) -> pd.DataFrame:
    """Signal-model grid with n_L and n_R pinned at the upper fit limit at some masses."""
    rng = np.random.default_rng(seed)
    m = np.linspace(0.16, 4.5, 12)
    n = len(m)
    t = {"m_a": m, "mu": m - 0.002, "sigma_l": 0.008 + 0.004 * m, "sigma_r": 0.007 + 0.003 * m,
         "alpha_l": rng.uniform(0.8, 1.6, n), "alpha_r": rng.uniform(1.0, 2.0, n),
         "n_l": rng.uniform(2, 8, n), "n_r": rng.uniform(2, 8, n),
         "efficiency": 0.08 + 0.02 * np.sin(m)}
    for k in list(t)[1:]:
        t[f"{k}_err"] = 0.05 * np.abs(t[k]) + 1e-4
    hi = N_LIMITS[1]
    t["n_l"][[2, 7]] = hi
    t["n_l_err"][[2, 7]] = 60.0
    t["n_r"][[4]] = hi
    t["n_r_err"][[4]] = 80.0
    frame = pd.DataFrame(t)
    frame["fit_valid"] = True
    return frame


def longlived_inputs():
    ctau = np.array([10.0, 50.0, 100.0, 200.0, 300.0, 400.0])
    points, fits = {}, {}
    for i, mode in enumerate(MODES):
        rows, frows = [], []
        for m_a, c0 in ((0.6, 60.0 + 10 * i), (2.5, 400.0)):
            r = (1 + (ctau / c0) ** 1.2) ** -1.0
            rows.append(pd.DataFrame({"m_a": m_a, "ctau_mm": ctau, "ratio": r,
                                      "ratio_err": 0.03 + 0 * r}))
            frows.append({"m_a": m_a, "fit_ok": True, "c0_mm": c0, "p": 1.2, "q": 1.0})
        points[mode] = pd.concat(rows, ignore_index=True)
        fits[mode] = pd.DataFrame(frows)
    return points, fits


def score_frames(rng):
    signal, background = {}, {}
    for mode in MODES:
        n = 2000
        # CS scores are high for signal, the veto and X_s gamma probabilities low
        shape = {c: (5, 2) if c in ("cs1", "cs2") else (2, 5) for c, _ in mva.SCORES}
        signal[mode] = pd.DataFrame({c: rng.beta(*shape[c], n) for c in shape})
        bkg = pd.DataFrame({c: rng.beta(*shape[c][::-1], 3 * n) for c in shape})
        bkg["weight_fit"] = rng.uniform(0.5, 2.5, 3 * n)
        background[mode] = bkg
    return signal, background


def closure_table() -> pd.DataFrame:
    variables = ["thrust_b", "thrust_o", "cos_tbto", "cos_tbz", "r2", "cc1", "cc2", "cc3",
                 "cc4", "cc5", "cc6", "cc7", "cc8", "cc9", "hso_00", "hso_02", "hso_04",
                 "hoo_0", "hoo_2", "mbc", "delta_e", "missing_mass2"]
    comps = ["offres_sim_vs_data_before", "offres_sim_vs_data_after",
             "onres_continuum_sim_vs_true_tune_before", "onres_continuum_sim_vs_true_tune_after"]
    rng = np.random.default_rng(3)
    rows = [{"mode": mode, "variable": v, "comparison": c,
             "chi2_ndf": float(rng.lognormal(1.5 if c.endswith("before") else 0.1, 0.7))}
            for mode in MODES for v in variables for c in comps]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------- layout of every figure


def test_mgg_layout_log_axis_and_sim_uncertainty():
    rng = np.random.default_rng(0)
    for mode in MODES:
        data, sim = sim_and_data(rng, mode)
        fig = mgg.plot_mgg_stack(data, sim, mode)
        assert_clean(fig)
        for ax in fig.axes:
            assert ax.get_yscale() == "log", "Fig. 2 has a log count axis"
            # the continuum (~ a few candidates per bin at 0.8 GeV) lies inside the y range
            lo, hi = ax.get_ylim()
            assert lo <= 1.0 and hi > 100 * lo
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert any(t.startswith("sim. unc.") for t in labels)
        plt.close(fig)


def test_mgg_sim_uncertainty_is_sqrt_sumw2():
    m = np.array([1.05, 1.06, 1.07, 2.0])
    w = np.array([2.0, 2.5, 2.0, 1.0])
    fig = mgg.plot_mgg_stack(None, {"continuum_uu": (m, w)}, "Kp", ranges=((1.0, 1.1),),
                               n_bins=1)
    band = [p for p in fig.axes[0].patches if p.get_hatch()][0]
    assert band.get_data().values[0] == pytest.approx(6.5 + np.sqrt(4 + 6.25 + 4))
    assert "(3 cand.)" in band.get_label()


def test_scan_layout_vetoes_and_failed_count():
    scans = {mode: scan_frame(i) for i, mode in enumerate(MODES)}
    fits = {}
    for i, mode in enumerate(MODES):
        f = scans[mode][["m_a"]].copy()
        f["fit_ok"] = np.random.default_rng(10 + i).uniform(size=len(f)) > 0.05
        fits[mode] = f
        # the limit table fails where the scan fit failed and at a few more points (toys),
        # some without a bias-corrected yield: both counts appear in the legend
        scans[mode]["fit_ok"] = f["fit_ok"] & scans[mode]["fit_ok"]
        scans[mode].loc[~scans[mode]["fit_ok"] & f["fit_ok"], "n_sig_corrected"] = np.nan
    fig = paper.plot_scan(scans, VETOES, fits=fits)
    assert_clean(fig)
    for row, mode in enumerate(MODES):
        ax = fig.axes[2 * row]
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        # same function, same table as n_failed_fits of significance.json / summary.json
        assert f"failed fits (not shown): {summary.n_failed_fits(fits[mode])}" in texts
        assert_veto_bands(ax)


def test_scan_failed_count_uses_scan_fits_not_limit_table():
    scan = scan_frame(0)
    scan["fit_ok"] = True
    scan.loc[[1, 2, 3, 4], "fit_ok"] = False  # limits failed here (toys, profiles)
    scan.loc[[3, 4], "n_sig_corrected"] = np.nan  # no bias correction where the toy failed
    fits = scan[["m_a"]].copy()
    fits["fit_ok"] = True
    fits.loc[[1], "fit_ok"] = False
    fig = paper.plot_scan({"Kp": scan}, VETOES, fits={"Kp": fits})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "failed fits (not shown): 1" in texts
    assert "no corrected yield (not shown): 2" in texts
    sig = fig.axes[1].lines[-1]
    assert len(sig.get_xdata()) == len(scan) - 1


def test_failed_fits_definition():
    t = pd.DataFrame({"fit_ok": [True, False, None, True]})
    assert summary.failed_fits(t).tolist() == [False, True, True, False]
    assert summary.n_failed_fits(t) == 2
    with pytest.raises(ValueError, match="fit_ok"):
        summary.failed_fits(pd.DataFrame({"m_a": [1.0]}))


def test_veto_windows():
    assert paper.veto_windows(ETA_VETOES, M_START) == VETOES
    assert paper.veto_windows(ETA_VETOES) == list(ETA_VETOES)
    with pytest.raises(ValueError, match="m_start_gev"):
        paper.veto_windows(ETA_VETOES, 0.0)
    with pytest.raises(ValueError, match="vetoes_gev"):
        paper.veto_windows([(0.6, 0.5)])


def assert_veto_bands(ax):
    """The π⁰ (below 0.16 GeV), η and η′ bands are shaded (gid "veto")."""
    spans = []
    for p in ax.patches:
        if p.get_gid() == "veto":
            x = p.get_xy()[:, 0] if isinstance(p, Polygon) else [p.get_x(), p.get_x() + p.get_width()]
            spans.append((round(min(x), 3), round(max(x), 3)))
    assert sorted(spans) == [(0.0, 0.16), (0.497, 0.578), (0.938, 0.997)]


def test_br_limits_layout_labels_and_vetoes():
    scans = {mode: scan_frame(i) for i, mode in enumerate(MODES)}
    fig = paper.plot_br_limits(scans, vetoes=VETOES)
    assert_clean(fig)
    for ax, mode in zip(fig.axes, MODES):
        assert ax.get_yscale() == "log"
        assert r"\mathcal{B}(a\to\gamma\gamma)" in ax.get_ylabel()
        assert paper.BR_LABELS[mode] in ax.get_ylabel()
        assert_veto_bands(ax)


def test_gaw_limit_layout_vetoes_and_no_spikes():
    gaw = gaw_frame()
    i = int(np.argmin(np.abs(gaw["m_a"] - 4.0)))
    j = int(np.argmin(np.abs(gaw["m_a"] - 4.4)))
    gaw.loc[[i, j], "n_modes"] -= 1
    gaw.loc[[i, j], "gaw_ul_obs"] *= 3.0  # a mode missing: weaker limit, a spike
    assert paper.incomplete_combination(gaw).nonzero()[0].tolist() == [i, j]
    fig = paper.plot_gaw_limit(gaw, VETOES, 2.9839)
    assert_clean(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert_veto_bands(ax)
    obs = ax.lines[-1]
    y = np.ma.masked_invalid(np.ma.asarray(obs.get_ydata(), dtype=float))
    x = np.asarray(obs.get_xdata(), dtype=float)
    drawn = x[~np.ma.getmaskarray(y)]
    assert not np.any(np.isclose(drawn, gaw["m_a"][i])) and not np.any(np.isclose(drawn, gaw["m_a"][j]))


def test_gaw_comparison_layout():
    fig = paper.plot_gaw_comparison(gaw_frame(), paper.babar_gaw_curve(BABAR_CSV), vetoes=VETOES)
    assert_clean(fig)
    assert fig.axes[0].get_yscale() == "log"


def test_toy_bias_layout():
    assert_clean(paper.plot_toy_bias({mode: toy_frame(i) for i, mode in enumerate(MODES)}))


def test_signal_model_layout_and_parameters_at_limit(monkeypatch):
    tables = {mode: signal_table(i) for i, mode in enumerate(MODES)}
    fig = render(monkeypatch, sm_plot, sm_plot.signal_model_figure, tables)
    assert_clean(fig)
    panels = {ax.get_ylabel(): ax for ax in fig.axes if ax.axison}
    for ax in panels.values():  # interpolation curves stay inside the y range
        lo, hi = ax.get_ylim()
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            if line.get_linestyle() not in ("None", "") and y.size >= 200:
                assert lo <= np.nanmin(y) and np.nanmax(y) <= hi, f"curve leaves {ax.get_ylabel()}"
    for col, label in (("n_l", "$n_L$"), ("n_r", "$n_R$")):
        ax = panels[label]
        n_pinned = sum(int(sm_plot.at_fit_limit(col, t[col]).sum()) for t in tables.values())
        assert n_pinned > 0
        pinned = [ln for ln in ax.get_lines() if ln.get_gid() == "at_limit"]
        assert sum(len(ln.get_xdata()) for ln in pinned) == n_pinned
        assert all(ln.get_markerfacecolor() == "none" for ln in pinned)
        # error bars only for the measured points: none spans the axis from a pinned value
        n_bars = sum(len(c.get_segments()) for c in ax.collections)
        assert n_bars == sum(len(t) for t in tables.values()) - n_pinned


def test_longlived_layout(monkeypatch):
    points, fits = longlived_inputs()
    assert_clean(render(monkeypatch, sm_plot, sm_plot.longlived_figure, points, fits))


def test_bdt_scores_layout(monkeypatch):
    signal, background = score_frames(np.random.default_rng(4))
    assert_clean(render(monkeypatch, mva, mva.score_distributions, signal, background))


def test_bdt_roc_layout(monkeypatch):
    signal, background = score_frames(np.random.default_rng(5))
    assert_clean(render(monkeypatch, mva, mva.roc_curves, signal, background))


def test_calibration_closure_layout(monkeypatch):
    fig = render(monkeypatch, mva, mva.closure_figure, closure_table())
    assert_clean(fig)


def test_signal_efficiency_layout(monkeypatch):
    m = np.linspace(0.16, 4.5, 12)
    eff = {mode: (m, 0.02 + 0.1 * np.exp(-((m - 3) ** 2)) + 0.01 * i)
           for i, mode in enumerate(MODES)}
    assert_clean(render(monkeypatch, mva, mva.efficiency_figure, eff))


# ----------------------------------------------------------------------- the checker itself


def test_checker_catches_text_outside_and_legend_on_data():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.linspace(0, 1, 50), np.linspace(0, 1, 50), "o", label="data")
    ax.legend(loc="center")
    ax.set_xlabel("x")
    problems = layout_problems(fig)
    assert any("no y label" in p for p in problems)
    assert any("legend covers data" in p for p in problems)
    ax.set_ylabel("y")
    ax.text(1.5, 0.5, "far right", transform=ax.transAxes)
    assert any("'far right' outside the canvas" in p for p in layout_problems(fig))


def test_checker_catches_squashed_axes_and_overlapping_titles():
    fig, axes = plt.subplots(2, 1, figsize=(4, 3))
    for ax in axes:
        ax.set_xticks(range(10), [f"a long tick label {i}" for i in range(10)], rotation=60)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    axes[0].set_title("a centred title that is long")
    axes[0].text(0.0, 1.01, "experiment label text", transform=axes[0].transAxes)
    with pytest.warns(UserWarning, match="Tight layout not applied"):
        fig.tight_layout()  # the rotated labels leave no room: the axes get squashed
    problems = layout_problems(fig)
    assert any("squashed" in p or "reach into" in p or "outside the canvas" in p for p in problems)
    assert any(p.startswith("overlap") for p in problems)
