"""Tests of the multivariate-selection library (alpscan.mva: features, classifier,
reweight, punzi)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alpscan.mva.classifier import (
    load_model,
    predict,
    predict_by_mass_region,
    roc_auc,
    save_model,
    train_bdt,
    train_by_mass_region,
)
from alpscan.mva.features import (
    CS1_VARIABLES,
    CS2_VARIABLES,
    FORBIDDEN_VARIABLES,
    XSGAMMA_VARIABLES,
    feature_frame,
    mass_region,
    split_train,
)
from alpscan.mva.punzi import (
    best_cut_1d,
    grid_search_4d,
    pass_counts,
    passes,
    punzi_fom,
    threshold_grid,
)
from alpscan.mva.reweight import (
    apply_reweighter,
    binned_chi2,
    normalisation_ratio,
    normalisation_ratio_by_region,
    train_reweighter,
    weighted_ks,
)

ROOT = Path(__file__).resolve().parents[1]
GEN_KP = ROOT / "results" / "generation" / "Kp"
FAST = {"num_boost_round": 60, "eta": 0.2, "max_depth": 3, "nthread": 2}


# ---------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------
def test_variable_lists():
    assert len(CS1_VARIABLES) == 10
    assert len(XSGAMMA_VARIABLES) == 6
    for v in (CS1_VARIABLES, CS2_VARIABLES, XSGAMMA_VARIABLES):
        assert len(set(v)) == len(v)
        assert not set(v) & FORBIDDEN_VARIABLES
    assert not set(CS1_VARIABLES) & set(CS2_VARIABLES)
    assert {"r2", "cos_thrust_b_roe", "cos_thrust_b_z", "roe_thrust"} <= set(CS1_VARIABLES)
    assert sum(v.startswith("ksfw_") for v in CS1_VARIABLES) == 6
    assert {"n_cand", "gamma_energy_asym", "sphericity", "aplanarity"} <= set(CS2_VARIABLES)
    sample = GEN_KP / "signal_uniform.parquet"
    if sample.exists():
        cols = set(pd.read_parquet(sample).columns)
        assert set(CS1_VARIABLES + CS2_VARIABLES + XSGAMMA_VARIABLES) <= cols


def test_mass_region():
    assert mass_region(0.5) == "low"
    assert mass_region(1.0) == "high"  # boundary belongs to the high region
    assert mass_region(0.999999) == "low"
    assert mass_region(1.5, boundary=2.0) == "low"
    assert mass_region(np.array([0.2, 1.0, 3.0])).tolist() == ["low", "high", "high"]
    with pytest.raises(ValueError):
        mass_region(np.nan)


def test_feature_frame_checks():
    df = pd.DataFrame({"r2": [0.1, 0.2], "m_gg": [1.0, 2.0], "n_cand": [1, 2]})
    out = feature_frame(df, ["n_cand", "r2"])
    assert list(out.columns) == ["n_cand", "r2"] and out.dtypes.eq(np.float64).all()
    with pytest.raises(ValueError):
        feature_frame(df, ["r2", "m_gg"])  # mass must never be a classifier input
    with pytest.raises(KeyError):
        feature_frame(df, ["r2", "sphericity"])


def test_split_train_deterministic_disjoint_proportional():
    # contiguous uid blocks, as the generation stage writes them
    uid = np.concatenate([np.arange(10**16, 10**16 + 60_000), np.arange(5, 40_005)]).astype(
        np.int64
    )
    mask = split_train(uid, 0.3, seed=7)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, split_train(uid, 0.3, seed=7))
    # independent of row order and of the other rows present
    perm = np.random.default_rng(0).permutation(uid.size)
    np.testing.assert_array_equal(split_train(uid[perm], 0.3, seed=7), mask[perm])
    np.testing.assert_array_equal(split_train(uid[:1000], 0.3, seed=7), mask[:1000])
    # disjoint train/test uid sets covering everything, in the requested proportion
    train, test = set(uid[mask]), set(uid[~mask])
    assert not train & test and len(train) + len(test) == uid.size
    n = uid.size
    assert abs(mask.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    for block in (mask[:60_000], mask[60_000:], mask[::2], mask[1::2]):  # no uid pattern
        assert abs(block.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / block.size)
    # nested in the fraction, different for another seed
    assert np.all(split_train(uid, 0.5, seed=7)[mask])
    other = split_train(uid, 0.3, seed=8)
    assert 0.3 < np.mean(other != mask) < 0.5  # ~2·0.3·0.7 = 0.42 if independent
    assert not split_train(uid, 0.0, 7).any() and split_train(uid, 1.0, 7).all()


# ---------------------------------------------------------------------------------------
# classifier
# ---------------------------------------------------------------------------------------
def _gauss_frames(n, shift, seed, cols=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    sig = pd.DataFrame(rng.normal(shift, 1.0, (n, len(cols))), columns=list(cols))
    bkg = pd.DataFrame(rng.normal(0.0, 1.0, (n, len(cols))), columns=list(cols))
    return sig, bkg


def test_training_deterministic_and_seed_dependent(tmp_path):
    sig, bkg = _gauss_frames(3000, 0.5, seed=1)
    test, _ = _gauss_frames(2000, 0.2, seed=2)
    m1 = train_bdt(sig, bkg, None, None, FAST, seed=11)
    m2 = train_bdt(sig, bkg, None, None, FAST, seed=11)
    m3 = train_bdt(sig, bkg, None, None, FAST, seed=12)
    p1, p2, p3 = predict(m1, test), predict(m2, test), predict(m3, test)
    np.testing.assert_array_equal(p1, p2)
    assert np.max(np.abs(p1 - p3)) > 1e-4
    assert np.all((p1 >= 0) & (p1 <= 1))
    # JSON round trip: same predictions, feature list and metadata kept
    path = tmp_path / "bdt.json"
    save_model(m1, path)
    back = load_model(path)
    assert back.features == ("a", "b", "c")
    np.testing.assert_array_equal(predict(back, test), p1)
    doc = json.loads(path.read_text())
    assert "learner" in doc  # plain xgboost JSON
    # column order of a DataFrame does not matter, an array must follow model.features
    np.testing.assert_array_equal(predict(back, test[["c", "a", "b"]]), p1)
    np.testing.assert_array_equal(predict(back, test.to_numpy()), p1)
    with pytest.raises(ValueError):
        save_model(m1, tmp_path / "bdt.ubj")


def test_class_balancing():
    """On a 1:10 imbalanced sample the classes get equal total weight: the mean
    prediction (a boosted-tree fit reproduces the weighted label mean) is 0.5 per
    event-weighted class average, not the 1/11 signal fraction; and only the relative
    weights within a class matter."""
    rng = np.random.default_rng(3)
    sig = rng.normal(1.0, 1.0, (1000, 1))
    bkg = rng.normal(-1.0, 1.0, (10_000, 1))
    m = train_bdt(sig, bkg, None, None, FAST, seed=0)
    p_sig, p_bkg = predict(m, sig), predict(m, bkg)
    assert 0.5 * (p_sig.mean() + p_bkg.mean()) == pytest.approx(0.5, abs=0.02)
    m_raw = train_bdt(sig, bkg, None, None, FAST, seed=0, balance=False)
    assert np.mean(predict(m_raw, np.r_[sig, bkg])) == pytest.approx(1 / 11, abs=0.02)
    m_scaled = train_bdt(sig, bkg, np.full(1000, 7.0), np.full(10_000, 0.01), FAST, seed=0)
    np.testing.assert_allclose(predict(m_scaled, sig), p_sig, atol=1e-5)


def _separable_samples():
    """Real Kp signal_uniform vs continuum if the generation stage has run, else toy."""
    s_path, b_path = GEN_KP / "signal_uniform.parquet", GEN_KP / "continuum_uu.parquet"
    if s_path.exists() and b_path.exists():
        sig = pd.read_parquet(s_path)
        bkg = pd.concat(
            [pd.read_parquet(GEN_KP / f"continuum_{q}.parquet") for q in ("uu", "dd", "ss", "cc")]
        )
        return sig, bkg, True
    rng = np.random.default_rng(5)
    n = 3000

    def frame(n, sig):
        d = {
            v: rng.normal(0.8 if sig and i < 4 else 0.0, 1.0, n)
            for i, v in enumerate(CS1_VARIABLES)
        }
        d.update(uid=rng.integers(0, 2**62, n), weight=np.ones(n), m_gg=rng.uniform(0.1, 4.5, n))
        return pd.DataFrame(d)

    return frame(n, True), frame(n, False), False


def test_auc_separable_and_identical():
    sig, bkg, _real = _separable_samples()
    ts, tb = split_train(sig["uid"], 0.5, 1), split_train(bkg["uid"], 0.5, 1)
    models = train_by_mass_region(sig[ts], bkg[tb], CS1_VARIABLES, {"nthread": 2}, seed=1)
    assert set(models) == {"low", "high"}
    assert models["low"].meta["region"] == "low" and models["high"].meta["n_sig"] > 0
    held = pd.concat([sig[~ts], bkg[~tb]])
    labels = np.r_[np.ones((~ts).sum()), np.zeros((~tb).sum())]
    score = predict_by_mass_region(models, held)
    assert roc_auc(score, labels, held["weight"]) > 0.8
    # routing: each row scored by its own region's model
    low = held["m_gg"].to_numpy() < 1.0
    np.testing.assert_array_equal(score[low], predict(models["low"], held[low]))
    np.testing.assert_array_equal(score[~low], predict(models["high"], held[~low]))
    assert not np.allclose(predict(models["low"], held[~low]), score[~low])

    # identical distributions: no separation on a held-out set
    a, b = _gauss_frames(20_000, 0.0, seed=9)
    m = train_bdt(a[:10_000], b[:10_000], None, None, {"nthread": 2}, seed=3)
    held = pd.concat([a[10_000:], b[10_000:]])
    auc = roc_auc(predict(m, held), np.r_[np.ones(10_000), np.zeros(10_000)])
    assert abs(auc - 0.5) < 0.05


def test_roc_auc_weights():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # weight 2 on an event == the event twice
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], [1, 2, 1, 1]) == pytest.approx(
        roc_auc([0.1, 0.4, 0.4, 0.35, 0.8], [0, 0, 0, 1, 1])
    )


# ---------------------------------------------------------------------------------------
# reweighting
# ---------------------------------------------------------------------------------------
def test_normalisation_ratio():
    assert normalisation_ratio(106.0, 100.0) == pytest.approx(1.06)
    m_d = np.array([0.5, 0.7, 2.0, 3.0, 1.0])
    w_d = np.ones(5)
    m_s = np.array([0.5, 2.0, 2.5, 3.0])
    w_s = np.array([0.5, 1.0, 1.0, 2.0])
    r = normalisation_ratio_by_region(m_d, w_d, m_s, w_s)
    assert r["low"][0] == pytest.approx(2 / 0.5)
    assert r["high"][0] == pytest.approx(3 / 4.0)
    assert r["high"][1] == pytest.approx(0.75 * np.sqrt(3 / 9 + 6 / 16))
    with pytest.raises(ValueError):
        normalisation_ratio(1.0, 0.0)


def test_reweighter_recovers_density_ratio():
    """sim ~ N(0, 1)², data ~ N(0.3, 1.1)²: the weighted simulation reproduces the data
    and the weights follow the analytic ratio."""
    rng = np.random.default_rng(2024)
    n_sim, n_data = 20_000, 10_000
    x_sim = rng.normal(0.0, 1.0, (n_sim, 2))
    x_data = rng.normal(0.3, 1.1, (n_data, 2))
    rw = train_reweighter(x_sim, None, x_data, None, {"nthread": 2}, seed=4)
    assert rw.prior == pytest.approx(2.0)
    # evaluate on an independent simulated sample
    x_eval = rng.normal(0.0, 1.0, (n_sim, 2))
    w = apply_reweighter(rw, x_eval)
    assert np.all(w >= 0) and np.all(w <= rw.w_max * rw.norm + 1e-12)
    # shape only: mean weight one (exactly on the training sample; on an independent
    # sample to the ~1-2 % by which the classifier over-fits its own training events)
    assert np.mean(w) == pytest.approx(1.0, abs=0.04)
    n_eff = w.sum() ** 2 / np.sum(w**2)
    mean = np.average(x_eval, axis=0, weights=w)
    std = np.sqrt(np.average((x_eval - mean) ** 2, axis=0, weights=w))
    # statistical precision: data + weighted-sim sample + the training samples
    tol = 4 * 1.1 * np.sqrt(1 / n_data + 1 / n_eff + 1 / n_sim)
    np.testing.assert_allclose(mean, 0.3, atol=tol)
    np.testing.assert_allclose(std, 1.1, atol=tol)
    np.testing.assert_allclose(x_eval.mean(axis=0), 0.0, atol=tol)  # before: off
    for k in range(2):
        after = binned_chi2(x_eval[:, k], w, x_data[:, k], None, 20, range=(-3.5, 3.5))
        before = binned_chi2(x_eval[:, k], None, x_data[:, k], None, 20, range=(-3.5, 3.5))
        assert after.chi2_ndf < 2.0 and after.p_value > 1e-3
        assert before.chi2_ndf > 10.0
        assert weighted_ks(x_eval[:, k], w, x_data[:, k], None).p_value > 1e-3
        assert weighted_ks(x_eval[:, k], None, x_data[:, k], None).p_value < 1e-6
    true = np.prod(stats.norm.pdf(x_eval, 0.3, 1.1) / stats.norm.pdf(x_eval), axis=1)
    bulk = np.all(np.abs(x_eval) < 1.5, axis=1)
    rel = w[bulk] / true[bulk] - 1.0
    assert abs(np.median(rel)) < 0.05
    assert np.median(np.abs(rel)) < 0.10
    assert np.corrcoef(np.log(w[bulk]), np.log(true[bulk]))[0, 1] > 0.9


def test_reweighter_identical_samples_gives_flat_weights():
    rng = np.random.default_rng(8)
    x_sim, x_data = rng.normal(size=(10_000, 2)), rng.normal(size=(10_000, 2))
    rw = train_reweighter(x_sim, None, x_data, np.full(10_000, 3.0), {"nthread": 2}, seed=1)
    w = apply_reweighter(rw, rng.normal(size=(10_000, 2)))
    assert rw.prior == pytest.approx(1 / 3)
    assert np.mean(w) == pytest.approx(1.0, abs=0.02)
    assert np.std(w) < 0.15
    # without the final renormalisation the prior factor alone gets the mean right
    raw = train_reweighter(
        x_sim, None, x_data, np.full(10_000, 3.0), {"nthread": 2}, seed=1, renormalise=False
    )
    assert raw.norm == 1.0
    assert np.mean(apply_reweighter(raw, x_sim)) == pytest.approx(1.0, abs=0.05)


def test_binned_chi2_hand_computed():
    x_a = np.array([0.2, 0.4, 0.6, 0.8, 1.5])
    w_a = np.array([1.0, 1.0, 1.0, 1.0, 2.0])  # bin 0: 4 ± 2, bin 1: 2 ± 2
    x_b = np.array([0.1, 0.2, 0.3, 1.1, 1.2, 1.3])  # 3 ± √3 in each bin
    r = binned_chi2(x_a, w_a, x_b, None, bins=[0, 1, 2], normalise=False)
    assert r.chi2 == pytest.approx(1 / 7 + 1 / 7) and r.ndf == 2
    r = binned_chi2(x_a, w_a, x_b, None, bins=[0, 1, 2])
    # shapes (2/3, 1/3) vs (1/2, 1/2); variances 4/36 + 3/36 in each bin
    assert r.chi2 == pytest.approx(2 * (1 / 6) ** 2 / (7 / 36)) and r.ndf == 1
    assert r.p_value == pytest.approx(stats.chi2.sf(r.chi2, 1))


def test_weighted_ks():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=400), rng.normal(0.2, 1, size=300)
    r = weighted_ks(a, None, b, None)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=0.3)
    # an integer weight is the event repeated
    wa = rng.integers(1, 4, a.size).astype(float)
    assert weighted_ks(a, wa, b, None).statistic == pytest.approx(
        weighted_ks(np.repeat(a, wa.astype(int)), None, b, None).statistic, rel=1e-12
    )
    assert weighted_ks(a, wa, b, None).n_eff_a == pytest.approx(wa.sum() ** 2 / np.sum(wa**2))


# ---------------------------------------------------------------------------------------
# Punzi optimisation
# ---------------------------------------------------------------------------------------
def test_punzi_fom_hand_computed():
    assert punzi_fom(0.5, 16.0) == pytest.approx(0.5 / (1.5 + 4.0))
    assert punzi_fom(0.3, 0.0) == pytest.approx(0.2)
    assert punzi_fom(0.6, 9.0, a=5.0) == pytest.approx(0.6 / 5.5)
    np.testing.assert_allclose(punzi_fom(np.array([0.5, 1.0]), np.array([1.0, 4.0])), [0.2, 2 / 7])


def test_pass_counts_directions():
    t = threshold_grid(0.5)  # 0, 0.5, 1
    s = np.array([0.1, 0.5, 0.9, 0.5])
    w = np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(pass_counts(s[:, None], w, [t], [+1]), [15.0, 4.0, 0.0])
    np.testing.assert_allclose(pass_counts(s[:, None], w, [t], [-1]), [0.0, 1.0, 15.0])
    r = best_cut_1d(
        [0.6, 0.7, 0.8, 0.2], None, 4.0, [0.1, 0.3, 0.55, 0.9], [4.0, 4.0, 1.0, 1.0], step=0.25
    )
    # FOM at t = 0, .25, .5, .75, 1: 1/(1.5+√10), .75/(1.5+√6), .75/(1.5+√2), .25/2.5, 0
    assert r.thresholds == (0.5,)
    assert r.fom == pytest.approx(0.75 / (1.5 + np.sqrt(2.0)))


def test_grid_search_4d_matches_brute_force():
    rng = np.random.default_rng(17)
    n, m = 400, 700
    sig = np.column_stack(
        [rng.beta(5, 2, n), rng.beta(4, 2, n), rng.beta(1, 5, n), rng.beta(1, 4, n)]
    )
    bkg = np.column_stack(
        [rng.beta(2, 5, m), rng.beta(2, 3, m), rng.beta(2, 3, m), rng.beta(3, 2, m)]
    )
    t = threshold_grid(0.1)
    sig[:40] = rng.choice(t, (40, 4))  # scores exactly on thresholds: strict comparisons
    bkg[:40] = rng.choice(t, (40, 4))
    w_sig = rng.uniform(0.5, 1.5, n)
    w_bkg = rng.uniform(0.2, 3.0, m)
    n_tot = 1.3 * w_sig.sum()
    dirs = (+1, +1, -1, -1)
    res = grid_search_4d(sig, w_sig, n_tot, bkg, w_bkg, step=0.1, a=3.0, directions=dirs)
    assert res.fom_grid.shape == (11, 11, 11, 11)

    brute = np.empty((11,) * 4)
    for idx in itertools.product(range(11), repeat=4):
        th = t[list(idx)]
        ps = passes(sig, th, dirs)
        pb = passes(bkg, th, dirs)
        brute[idx] = (w_sig[ps].sum() / n_tot) / (1.5 + np.sqrt(w_bkg[pb].sum()))
    np.testing.assert_allclose(res.fom_grid, brute, rtol=1e-10, atol=1e-14)
    best = np.unravel_index(np.argmax(brute), brute.shape)
    assert res.fom == pytest.approx(brute.max(), rel=1e-12)
    assert brute[res.index] == pytest.approx(brute.max(), rel=1e-10)
    assert res.thresholds == pytest.approx(tuple(t[list(best)]))
    # the optimum really cuts on every axis in the right direction
    keep_s = passes(sig, res.thresholds, dirs)
    assert res.efficiency == pytest.approx(w_sig[keep_s].sum() / n_tot)
    assert res.background == pytest.approx(w_bkg[passes(bkg, res.thresholds, dirs)].sum())


def test_grid_search_is_vectorised():
    rng = np.random.default_rng(0)
    sig, bkg = rng.uniform(size=(200_000, 4)), rng.uniform(size=(200_000, 4))
    res = grid_search_4d(sig, None, 2e5, bkg, None)  # 21^4 grid points
    assert res.fom_grid.shape == (21,) * 4
