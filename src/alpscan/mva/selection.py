"""The multivariate-selection stage (spec §5–6): sample roles, training sets, scoring,
off-resonance calibration and the Punzi-optimised selection; pure functions the rule
scripts call.

Design notes: docs/selection.md.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from alpscan.mva.classifier import predict, predict_by_mass_region, roc_auc, train_bdt, train_by_mass_region
from alpscan.mva.features import CS1_VARIABLES, CS2_VARIABLES, XSGAMMA_VARIABLES, split_train
from alpscan.mva.punzi import best_cut_1d, grid_search_4d, passes
from alpscan.mva.reweight import apply_reweighter, closure_metrics, normalisation_ratio_by_region, train_reweighter
from alpscan.mva.veto import veto_probabilities

CONTINUUM_SIM = ("continuum_uu", "continuum_dd", "continuum_ss", "continuum_cc")
BACKGROUND_SIM = CONTINUUM_SIM + ("bb_charged", "bb_neutral")
SPLIT_SAMPLES = BACKGROUND_SIM + ("xsgamma",)
SCORE_COLUMNS = ("cs1", "cs2", "p_pi0", "p_eta", "xsg")
CS_VARIABLES = tuple(dict.fromkeys(CS1_VARIABLES + CS2_VARIABLES))


def add_roles(frame: pd.DataFrame, sample: str, train_fraction: float, seed: int) -> pd.DataFrame:
    """Add ``is_train`` and ``weight_fit`` (see docs/selection.md)."""
    out = frame.copy()
    if sample in SPLIT_SAMPLES and len(out):
        is_train = split_train(out["uid"].to_numpy(), train_fraction, seed)
        out["is_train"] = is_train
        out["weight_fit"] = np.where(is_train, 0.0, out["weight"] / (1.0 - train_fraction))
    else:
        out["is_train"] = False
        out["weight_fit"] = out["weight"] if len(out) else pd.Series(dtype=float)
    return out


def training_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the training events (``is_train``) of role-annotated frames."""
    parts = [f[f["is_train"]] for f in frames if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cap_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows, drawn reproducibly (weights rescaled to keep the sum)."""
    if len(frame) <= max_rows:
        return frame
    keep = np.random.default_rng(seed).choice(len(frame), max_rows, replace=False)
    out = frame.iloc[np.sort(keep)].copy()
    out["weight"] *= frame["weight"].sum() / out["weight"].sum()
    return out


def train_cs1(sig: pd.DataFrame, bkg: pd.DataFrame, params: dict, seed: int, boundary: float):
    """CS1 below and above ``boundary`` (GeV) on :data:`CS1_VARIABLES`."""
    return train_by_mass_region(sig, bkg, CS1_VARIABLES, params, seed, boundary=boundary)


def train_cs2(sig, bkg, cs1_models, loose_cut: float, params: dict, seed: int, boundary: float,
              min_events: int = 50):
    """CS2 on :data:`CS2_VARIABLES`, trained on events with CS1 > ``loose_cut``.

    In a mass region where fewer than ``min_events`` signal or background events pass
    the loose cut (tiny test samples), the cut is lowered to the value that keeps
    ``min_events`` background events of that region; the value used is recorded in the
    model metadata (``loose_cs1_cut``).
    """
    s_cs1 = predict_by_mass_region(cs1_models, sig, boundary=boundary)
    b_cs1 = predict_by_mass_region(cs1_models, bkg, boundary=boundary)
    keep_s = np.zeros(len(sig), dtype=bool)
    keep_b = np.zeros(len(bkg), dtype=bool)
    used = {}
    for region, in_s, in_b in (("low", sig["m_gg"] < boundary, bkg["m_gg"] < boundary),
                               ("high", sig["m_gg"] >= boundary, bkg["m_gg"] >= boundary)):
        cut = loose_cut
        n_b = int(np.sum(in_b & (b_cs1 > cut)))
        if n_b < min_events and np.sum(in_b) > 0:
            cut = min(cut, float(np.sort(b_cs1[in_b.to_numpy()])[::-1][min(min_events, int(np.sum(in_b))) - 1]) - 1e-9)
        keep_s |= (in_s & (s_cs1 > cut)).to_numpy()
        keep_b |= (in_b & (b_cs1 > cut)).to_numpy()
        used[region] = cut
    models = train_by_mass_region(sig[keep_s], bkg[keep_b], CS2_VARIABLES, params, seed + 17, boundary=boundary)
    for region, model in models.items():
        model.meta["loose_cs1_cut"] = used[region]
        model.booster.set_attr(alpscan_meta=json.dumps(model.meta, sort_keys=True))
    return models


def train_xsgamma(sig: pd.DataFrame, xsg: pd.DataFrame, params: dict, seed: int):
    """X_sγ BDT on :data:`XSGAMMA_VARIABLES` (one model over the whole mass range:
    the X_sγ sample populates mostly high M_γγ, too few events to split)."""
    return train_bdt(sig, xsg, sig["weight"].to_numpy(), xsg["weight"].to_numpy(), params, seed + 31,
                     features=XSGAMMA_VARIABLES, meta={"kind": "xsgamma"})


def score(cands: pd.DataFrame, pairs: pd.DataFrame, cs1, cs2, veto, xsg, boundary: float) -> pd.DataFrame:
    """Add the classifier outputs ``cs1, cs2, p_pi0, p_eta, xsg`` to ``cands``."""
    out = cands.copy()
    if not len(out):
        for col in SCORE_COLUMNS:
            out[col] = pd.Series(dtype=float)
        return out
    out["cs1"] = predict_by_mass_region(cs1, out, boundary=boundary)
    out["cs2"] = predict_by_mass_region(cs2, out, boundary=boundary)
    probs = veto_probabilities(veto, pairs, out)
    out["p_pi0"] = probs["p_pi0"].to_numpy()
    out["p_eta"] = probs["p_eta"].to_numpy()
    out["xsg"] = predict(xsg, out)
    return out


# ------------------------------------------------------------ calibration
def calibrate(off_sim: pd.DataFrame, off_data: pd.DataFrame, params: dict, seed: int, boundary: float,
              holdout_fraction: float, max_weight: float):
    """Off-resonance calibration [P]: normalisation per mass region, then the shape
    weights w = p/(1 − p) of a data-vs-simulation classifier on the CS variables.

    The classifier is trained on a ``1 − holdout_fraction`` part of both samples
    (split by uid); the closure is evaluated on the held-out part.
    Returns (norms, reweighter, train masks (sim, data)).
    """
    norms = normalisation_ratio_by_region(off_data["m_gg"], off_data["weight"], off_sim["m_gg"], off_sim["weight"],
                                          boundary=boundary)
    sim_w = off_sim["weight"].to_numpy() * region_factor(off_sim["m_gg"].to_numpy(), norms, boundary)
    tr_sim = ~split_train(off_sim["uid"].to_numpy(), holdout_fraction, seed + 101)
    tr_data = ~split_train(off_data["uid"].to_numpy(), holdout_fraction, seed + 101)
    rw = train_reweighter(off_sim.loc[tr_sim, list(CS_VARIABLES)], sim_w[tr_sim],
                          off_data.loc[tr_data, list(CS_VARIABLES)], off_data["weight"].to_numpy()[tr_data],
                          params, seed + 7, features=CS_VARIABLES, w_max=max_weight)
    return norms, rw, (tr_sim, tr_data)


def region_factor(m_gg: np.ndarray, norms: dict, boundary: float) -> np.ndarray:
    """Per-event normalisation factor of its mass region."""
    return np.where(np.asarray(m_gg) < boundary, norms["low"][0], norms["high"][0])


def calibrated_weight(frame: pd.DataFrame, norms: dict, reweighter, boundary: float, column="weight_fit"):
    """``column`` × normalisation × shape weight of continuum simulation."""
    if not len(frame):
        return np.zeros(0)
    shape = apply_reweighter(reweighter, frame[list(CS_VARIABLES)])
    return frame[column].to_numpy() * region_factor(frame["m_gg"].to_numpy(), norms, boundary) * shape


def closure_rows(mode, variables, comparisons, bins) -> list[dict]:
    """χ²/ndf and weighted-KS p-value per variable and comparison.

    ``comparisons`` maps a label to ((x_frame, w_a), (y_frame, w_b)).
    """
    rows = []
    for label, ((fa, wa), (fb, wb)) in comparisons.items():
        for var in variables:
            xa, xb = fa[var].to_numpy(), fb[var].to_numpy()
            lo, hi = np.percentile(np.concatenate([xa, xb]), [0.5, 99.5])
            if not hi > lo:
                continue
            m = closure_metrics(xa, wa, xb, wb, bins=bins, range=(lo, hi))
            rows.append({"mode": mode, "comparison": label, "variable": var, "chi2": m.chi2.chi2,
                         "ndf": m.chi2.ndf, "chi2_ndf": m.chi2.chi2_ndf, "chi2_p": m.chi2.p_value,
                         "ks_p": m.ks.p_value})
    return rows


# -------------------------------------------------------------- selection
def optimise_cuts(signal: pd.DataFrame, background: pd.DataFrame, xsg_bkg: pd.DataFrame, step: float, a: float,
                  boundary: float) -> dict:
    """Punzi optimisation per mass region: the 4-D (CS1, CS2, P(π⁰), P(η)) grid
    search, then the 1-D X_sγ cut on the events passing it.

    ``signal``: preselected prompt signal (weights 1); ``background``: fit-role
    simulated background with calibrated ``weight_fit``; ``xsg_bkg``: the X_sγ sample
    (fit role).  ε is relative to the preselected signal of the region.
    """
    cuts = {}
    for region, sel in (("low", lambda f: f["m_gg"] < boundary), ("high", lambda f: f["m_gg"] >= boundary)):
        s, b = signal[sel(signal)], background[sel(background)]
        xb = xsg_bkg[sel(xsg_bkg)]
        res = grid_search_4d(s[["cs1", "cs2", "p_pi0", "p_eta"]].to_numpy(), np.ones(len(s)), float(len(s)),
                             b[["cs1", "cs2", "p_pi0", "p_eta"]].to_numpy(), b["weight_fit"].to_numpy(), step=step, a=a)
        thr = [float(t) for t in res.thresholds]
        s_pass = passes(s[["cs1", "cs2", "p_pi0", "p_eta"]].to_numpy(), thr, (1, 1, -1, -1))
        x_pass = passes(xb[["cs1", "cs2", "p_pi0", "p_eta"]].to_numpy(), thr, (1, 1, -1, -1))
        b_pass = passes(b[["cs1", "cs2", "p_pi0", "p_eta"]].to_numpy(), thr, (1, 1, -1, -1))
        bkg_x = np.concatenate([b["xsg"].to_numpy()[b_pass], xb["xsg"].to_numpy()[x_pass]])
        w_x = np.concatenate([b["weight_fit"].to_numpy()[b_pass], xb["weight_fit"].to_numpy()[x_pass]])
        res_x = best_cut_1d(s["xsg"].to_numpy()[s_pass], np.ones(int(s_pass.sum())), float(len(s)), bkg_x, w_x,
                            step=step, a=a, direction=-1)
        cuts[region] = {
            "cs1_min": thr[0], "cs2_min": thr[1], "p_pi0_max": thr[2], "p_eta_max": thr[3],
            "xsg_max": float(res_x.thresholds[0]),
            "efficiency_4d": float(res.efficiency), "background_4d": float(res.background), "fom_4d": float(res.fom),
            "efficiency": float(res_x.efficiency), "background": float(res_x.background), "fom": float(res_x.fom),
            "n_signal": int(len(s)),
        }
    return cuts


def passes_cuts(frame: pd.DataFrame, cuts: dict, boundary: float) -> np.ndarray:
    """Boolean mask of candidates passing the region's cuts (strict inequalities)."""
    if not len(frame):
        return np.zeros(0, dtype=bool)
    ok = np.zeros(len(frame), dtype=bool)
    m = frame["m_gg"].to_numpy()
    for region, in_region in (("low", m < boundary), ("high", m >= boundary)):
        c = cuts[region]
        ok |= in_region & (frame["cs1"].to_numpy() > c["cs1_min"]) & (frame["cs2"].to_numpy() > c["cs2_min"]) & (
            frame["p_pi0"].to_numpy() < c["p_pi0_max"]) & (frame["p_eta"].to_numpy() < c["p_eta_max"]) & (
            frame["xsg"].to_numpy() < c["xsg_max"])
    return ok


def single_cut_performance(signal: pd.DataFrame, background: pd.DataFrame, cuts: dict, boundary: float) -> dict:
    """Signal efficiency and background rejection of each classifier's cut alone,
    averaged over the two mass regions weighted by the preselected signal (ε) and
    background (rejection) in each."""
    tests = {
        "cs1": ("cs1", "cs1_min", +1), "cs2": ("cs2", "cs2_min", +1), "pi0_veto": ("p_pi0", "p_pi0_max", -1),
        "eta_veto": ("p_eta", "p_eta_max", -1), "xsgamma": ("xsg", "xsg_max", -1),
    }
    out = {}
    for name, (col, key, direction) in tests.items():
        s_pass = s_tot = b_pass = b_tot = 0.0
        for region, sel in (("low", lambda f: f["m_gg"] < boundary), ("high", lambda f: f["m_gg"] >= boundary)):
            s, b = signal[sel(signal)], background[sel(background)]
            t = cuts[region][key]
            ps = s[col] > t if direction > 0 else s[col] < t
            pb = b[col] > t if direction > 0 else b[col] < t
            s_pass += ps.sum()
            s_tot += len(s)
            b_pass += b["weight_fit"][pb].sum()
            b_tot += b["weight_fit"].sum()
        out[name] = {"signal_efficiency": s_pass / s_tot if s_tot else float("nan"),
                     "background_rejection": 1 - b_pass / b_tot if b_tot else float("nan")}
    return out


def auc_table(signal: pd.DataFrame, background: pd.DataFrame) -> dict:
    """Weighted ROC AUC of each score (veto probabilities and X_sγ inverted)."""
    out = {}
    for col, sign in (("cs1", 1), ("cs2", 1), ("p_pi0", -1), ("p_eta", -1), ("xsg", -1)):
        scores = np.concatenate([signal[col].to_numpy(), background[col].to_numpy()]) * sign
        labels = np.concatenate([np.ones(len(signal)), np.zeros(len(background))])
        w = np.concatenate([np.ones(len(signal)) / max(len(signal), 1),
                            background["weight_fit"].to_numpy() / max(background["weight_fit"].sum(), 1e-12)])
        out[col] = float(roc_auc(scores, labels, w))
    return out


def load_calibration(calibration_json: str, reweighter_json: str):
    """(norms, reweighter) from the files written by the ``calibrate`` rule."""
    import json

    from alpscan.mva.classifier import load_model
    from alpscan.mva.reweight import Reweighter

    with open(calibration_json) as f:
        cal = json.load(f)
    norms = {k: (v["ratio"], v["error"]) for k, v in cal["normalisation"].items()}
    r = cal["reweighter"]
    return norms, Reweighter(model=load_model(reweighter_json), prior=r["prior"], w_max=r["w_max"], norm=r["norm"])


def fit_frame(frame: pd.DataFrame, sample: str, norms: dict, reweighter, boundary: float) -> pd.DataFrame:
    """Events usable downstream (not BDT training) with ``weight_fit`` calibrated for
    on-resonance continuum simulation (off-resonance normalisation × shape weight)."""
    out = frame[~frame["is_train"]].copy() if len(frame) else frame.copy()
    if sample in CONTINUUM_SIM and len(out):
        out["weight_fit"] = calibrated_weight(out, norms, reweighter, boundary)
    return out
