"""Tests of the π⁰/η photon veto (alpscan.mva.veto) on synthetic pair tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from alpscan.mva.veto import (
    HYPOTHESES,
    TESTS,
    VETO_FEATURES,
    VetoModel,
    best_partner_scores,
    load_veto,
    pair_features,
    photon_probabilities,
    save_veto,
    train_veto,
    veto_probabilities,
)

PARAMS = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2, "n_folds": 2, "nthread": 1}
M_PI0, M_ETA = 0.135, 0.548


def make_sample(seed: int, n_events: int, signal: bool, f_no_pairs: float = 0.05):
    """Synthetic candidates + pairs.

    Signal: both a photons are true signal photons (parent 0), harder spectrum.
    Background: each a photon from π⁰ (45 %), η (25 %) or other (30 %); a π⁰/η photon
    has its sibling among the partners with probability 0.85 (m_pair ~ N(0.135, 0.005)
    resp. N(0.548, 0.012)).  All other partners have m_pair uniform in [0.02, 1.2] GeV
    and identical distributions in signal and background.  A fraction ``f_no_pairs`` of
    events has no pair at all.
    """
    rng = np.random.default_rng(seed)
    ev = np.arange(n_events) * 3 + 7  # non-contiguous event ids
    cands = {"event_id": ev, "weight": np.ones(n_events)}
    e_a = np.empty((n_events, 2))
    parent = np.empty((n_events, 2), dtype=np.int64)
    for j in range(2):
        g = f"_gamma{j + 1}"
        if signal:
            e = rng.uniform(0.4, 2.5, n_events)
            par = np.zeros(n_events, dtype=np.int64)
        else:
            e = rng.uniform(0.1, 2.0, n_events)
            par = rng.choice([1, 2, 4], size=n_events, p=[0.45, 0.25, 0.30])
        e_a[:, j], parent[:, j] = e, par
        cands["e" + g + "_cm"] = e * 1.1
        cands["e9e21" + g] = np.clip(rng.normal(0.95, 0.03, n_events), 0, 1)
        cands["emax" + g] = e * rng.uniform(0.6, 0.9, n_events)
        cands["nweight" + g] = rng.integers(3, 15, n_events).astype(float)
        cands["region" + g] = rng.integers(0, 3, n_events)
        cands["parent" + g] = par
    cands = pd.DataFrame(cands)

    rows = []
    for j in range(2):
        n_rand = 1 + rng.poisson(3.0, n_events)
        r = np.repeat(np.arange(n_events), n_rand)
        m = rng.uniform(0.02, 1.2, r.size)
        same = np.zeros(r.size, bool)
        ppar = rng.choice([1, 2, 4], size=r.size)
        has_sib = (parent[:, j] > 0) & (parent[:, j] < 3) & (rng.random(n_events) < 0.85)
        rs = np.flatnonzero(has_sib)
        ms = np.where(
            parent[rs, j] == 1, rng.normal(M_PI0, 0.005, rs.size), rng.normal(M_ETA, 0.012, rs.size)
        )
        r = np.concatenate([r, rs])
        m = np.concatenate([m, ms])
        same = np.concatenate([same, np.ones(rs.size, bool)])
        ppar = np.concatenate([ppar, parent[rs, j]])
        n = r.size
        ea = e_a[r, j]
        ep = rng.uniform(0.05, 1.5, n)
        cos_open = np.clip(1 - m**2 / (2 * ea * ep), -1, 1)
        rows.append(
            pd.DataFrame(
                {
                    "event_id": ev[r],
                    "a_index": np.full(n, j),
                    "m_pair": m,
                    "e_partner": ep,
                    "e_pair": ea + ep,
                    "cos_open": cos_open,
                    "pt_pair": (ea + ep) * rng.uniform(0.3, 0.9, n),
                    "e_asym": np.abs(ea - ep) / (ea + ep),
                    "e9e21_partner": np.clip(rng.normal(0.95, 0.03, n), 0, 1),
                    "emax_partner": ep * rng.uniform(0.6, 0.9, n),
                    "nweight_partner": rng.integers(3, 15, n).astype(float),
                    "region_partner": rng.integers(0, 3, n),
                    "same_parent": same,
                    "a_parent": parent[r, j],
                    "partner_parent": ppar,
                }
            )
        )
    pairs = pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    no_pairs = ev[rng.random(n_events) < f_no_pairs]
    pairs = pairs[~pairs["event_id"].isin(no_pairs)].reset_index(drop=True)
    return pairs, cands


@pytest.fixture(scope="module")
def train_data():
    ps, cs = make_sample(1, 1500, signal=True)
    pb1, cb1 = make_sample(2, 900, signal=False)
    pb2, cb2 = make_sample(3, 900, signal=False)  # same event ids as pb1: joined per sample
    return ps, cs, [pb1, pb2], [cb1, cb2]


@pytest.fixture(scope="module")
def model(train_data) -> VetoModel:
    return train_veto(*train_data, PARAMS, seed=11)


@pytest.fixture(scope="module")
def test_data():
    return make_sample(101, 1500, signal=True), make_sample(102, 2000, signal=False)


def test_pair_features_join():
    pairs, cands = make_sample(5, 50, signal=False, f_no_pairs=0.0)
    extra = pd.DataFrame({"event_id": [10**6], "a_index": [0]}).reindex(columns=pairs.columns)
    extra[["event_id", "a_index"]] = [[10**6, 0]]
    f = pair_features(pd.concat([pairs, extra], ignore_index=True), cands)
    assert set(VETO_FEATURES) <= set(f.columns)
    assert len(f) == len(pairs)  # the pair of an unknown event is dropped
    c = cands.set_index("event_id")
    for j in (0, 1):
        sel = f["a_index"] == j
        exp = c.loc[f.loc[sel, "event_id"], f"e9e21_gamma{j + 1}"].to_numpy()
        np.testing.assert_array_equal(f.loc[sel, "e9e21_a"].to_numpy(), exp)
        exp = c.loc[f.loc[sel, "event_id"], f"region_gamma{j + 1}"].to_numpy()
        np.testing.assert_array_equal(f.loc[sel, "region_a"].to_numpy(), exp)
    np.testing.assert_allclose(f["e_a"], f["e_pair"] - f["e_partner"])


def test_best_partner_matches_loop():
    pairs, _ = make_sample(7, 40, signal=False)
    rng = np.random.default_rng(0)
    scores = rng.random((len(pairs), 3))
    best = best_partner_scores(pairs, scores)
    keys = sorted(set(zip(pairs["event_id"], pairs["a_index"], strict=True)))
    assert list(best.index) == keys
    for ev, a in keys:
        sel = (pairs["event_id"].to_numpy() == ev) & (pairs["a_index"].to_numpy() == a)
        np.testing.assert_array_equal(best.loc[(ev, a)].to_numpy(), scores[sel].max(axis=0))
    one = best_partner_scores(pairs, scores[:, 1])
    np.testing.assert_array_equal(one["score"].to_numpy(), best["score_1"].to_numpy())


def test_veto_probabilities_match_bruteforce(model):
    """End-to-end per-photon loop: window, three boosters, max, logistic combination."""
    pairs, cands = make_sample(55, 40, signal=False, f_no_pairs=0.1)
    out = veto_probabilities(model, pairs, cands)
    assert list(out["event_id"]) == list(cands["event_id"])
    feat = pair_features(pairs, cands)
    for h in HYPOTHESES:
        lo, hi = model.windows[h]
        coef = np.array(model.combiners[h]["coef"])
        b0 = model.combiners[h]["intercept"]
        for i, ev in enumerate(cands["event_id"]):
            for j in (0, 1):
                sel = (feat["event_id"] == ev) & (feat["a_index"] == j)
                sel &= (feat["m_pair"] >= lo) & (feat["m_pair"] <= hi)
                if not sel.any():
                    exp = 0.0
                else:
                    x = xgb.DMatrix(feat.loc[sel, list(VETO_FEATURES)].to_numpy(np.float32),
                                    feature_names=list(VETO_FEATURES))
                    best = np.array([model.boosters[h][t].booster.predict(x).max() for t in TESTS], float)
                    best = np.clip(best, 1e-6, 1 - 1e-6)
                    exp = 1 / (1 + np.exp(-(b0 + coef @ np.log(best / (1 - best)))))
                assert out[f"p_{h}_gamma{j + 1}"].iloc[i] == pytest.approx(exp, rel=1e-9, abs=1e-12)
        np.testing.assert_array_equal(
            out[f"p_{h}"], np.maximum(out[f"p_{h}_gamma1"], out[f"p_{h}_gamma2"])
        )


@pytest.mark.parametrize("h, code", [("pi0", 1), ("eta", 2)])
def test_separation(model, test_data, h, code):
    (ps, cs), (pb, cb) = test_data
    v_sig = veto_probabilities(model, ps, cs)[f"p_{h}"].to_numpy()
    v_bkg = veto_probabilities(model, pb, cb)[f"p_{h}"].to_numpy()
    # background candidates whose a photon has its sibling from h in the pair table
    sib = pb.loc[pb["same_parent"] & (pb["a_parent"] == code), "event_id"].unique()
    is_sib = cb["event_id"].isin(sib).to_numpy()
    assert is_sib.sum() > 200
    y = np.r_[np.zeros(len(v_sig)), np.ones(is_sib.sum())]
    auc = roc_auc_score(y, np.r_[v_sig, v_bkg[is_sib]])
    assert auc > 0.9, auc
    assert np.all((v_sig >= 0) & (v_sig <= 1))
    # calibration-ish: most h-sibling candidates flagged, most signal kept
    assert np.median(v_bkg[is_sib]) > 0.5 > np.median(v_sig)


def test_no_pairs_gives_zero(model, test_data):
    (ps, cs), _ = test_data
    lonely = ~cs["event_id"].isin(ps["event_id"])
    assert lonely.sum() > 10
    out = veto_probabilities(model, ps, cs)
    cols = [f"p_{h}{g}" for h in HYPOTHESES for g in ("", "_gamma1", "_gamma2")]
    assert (out.loc[lonely.to_numpy(), cols] == 0).all().all()
    empty = veto_probabilities(model, pd.DataFrame(), cs)
    assert len(empty) == len(cs)
    assert (empty[cols] == 0).all().all()
    ph = photon_probabilities(model, ps.iloc[:0], cs)
    assert (ph["p_pi0"] == 0).all() and (ph["n_partners_pi0"] == 0).all()


def test_deterministic(model, train_data, test_data):
    again = train_veto(*train_data, PARAMS, seed=11)
    other = train_veto(*train_data, PARAMS, seed=12)
    pb, cb = test_data[1]
    a = veto_probabilities(model, pb, cb)
    b = veto_probabilities(again, pb, cb)
    c = veto_probabilities(other, pb, cb)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert again.combiners == model.combiners
    assert not np.array_equal(a["p_pi0_gamma1"], c["p_pi0_gamma1"])  # the seed is used


def test_save_load_roundtrip(model, test_data, tmp_path):
    d = save_veto(model, tmp_path / "veto")
    assert (d / "veto.json").exists() and (d / "pi0_same_vs_sig.json").exists()
    loaded = load_veto(d)
    assert loaded.windows == model.windows and loaded.features == model.features
    for pairs, cands in test_data:
        pd.testing.assert_frame_equal(
            veto_probabilities(model, pairs, cands),
            veto_probabilities(loaded, pairs, cands),
            check_exact=True,
        )


def test_training_errors(train_data):
    ps, cs, pb, cb = train_data
    with pytest.raises(ValueError, match="unknown veto parameters"):
        train_veto(ps, cs, pb, cb, {"n_trees": 3}, seed=0)
    no_eta = [p[p["a_parent"] != 2] for p in pb]
    with pytest.raises(ValueError, match="eta"):
        train_veto(ps, cs, no_eta, cb, PARAMS, seed=0)
    with pytest.raises(ValueError, match="one row per event_id"):
        pair_features(ps, pd.concat([cs, cs]))


@pytest.mark.parametrize("h, code", [("pi0", 1), ("eta", 2)])
def test_each_bdt_scores_its_classes(model, test_data, h, code):
    """Each of the three BDTs ranks its positive ("h-like") class above its negative one."""
    (ps, cs), (pb, cb) = test_data
    fs, fb = pair_features(ps, cs), pair_features(pb, cb)
    lo, hi = model.windows[h]
    fs = fs[(fs["m_pair"] >= lo) & (fs["m_pair"] <= hi)]
    fb = fb[(fb["m_pair"] >= lo) & (fb["m_pair"] <= hi)]
    cls = {
        "SIG": fs[(fs["a_parent"] == 0) & ~fs["same_parent"]],
        "SAME": fb[fb["same_parent"] & (fb["a_parent"] == code)],
        "DIFF": fb[~fb["same_parent"] & (fb["a_parent"] == code)],
    }
    for test, (pos, neg) in zip(
        TESTS, [("SAME", "SIG"), ("DIFF", "SIG"), ("SAME", "DIFF")], strict=True
    ):
        sc = {
            k: model.boosters[h][test].booster.predict(
                xgb.DMatrix(cls[k][list(VETO_FEATURES)].to_numpy(np.float32), feature_names=list(VETO_FEATURES))
            )
            for k in (pos, neg)
        }
        y = np.r_[np.ones(len(sc[pos])), np.zeros(len(sc[neg]))]
        auc = roc_auc_score(y, np.r_[sc[pos], sc[neg]])
        # diff_vs_sig only sees the softer background a-photon spectrum here
        assert auc > (0.6 if test == "diff_vs_sig" else 0.85), (test, auc)
