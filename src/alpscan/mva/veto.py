"""π⁰/η photon veto (spec §5): three BDTs per hypothesis on photon pairs, the best
partner per photon, and a logistic combination into P(π⁰) and P(η) per candidate.

Design notes: docs/selection.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from alpscan.generation.events import PARENT_ETA, PARENT_PI0, PARENT_SAME
from alpscan.mva.classifier import BDTModel, load_model, predict, roc_auc, save_model, train_labelled

__all__ = [
    "DEFAULT_VETO_PARAMS",
    "HYPOTHESES",
    "TESTS",
    "VETO_FEATURES",
    "VetoModel",
    "best_partner_scores",
    "load_veto",
    "pair_features",
    "photon_probabilities",
    "save_veto",
    "train_veto",
    "veto_probabilities",
]

#: BDT input variables (pair table columns plus the joined a-photon columns).
VETO_FEATURES: tuple[str, ...] = (
    "m_pair",
    "e_pair",
    "e_partner",
    "e_a",
    "cos_open",
    "pt_pair",
    "e_asym",
    "e9e21_partner",
    "emax_partner",
    "nweight_partner",
    "region_partner",
    "e9e21_a",
    "emax_a",
    "nweight_a",
    "region_a",
)

#: Hypotheses and their parent codes in the generation truth.
HYPOTHESES: tuple[str, ...] = ("pi0", "eta")
_PARENT_CODE = MappingProxyType({"pi0": PARENT_PI0, "eta": PARENT_ETA})

#: The three tests (positive class, negative class); scores are "h-like" high.
TESTS: tuple[str, ...] = ("same_vs_sig", "diff_vs_sig", "same_vs_diff")
_TEST_CLASSES = MappingProxyType(
    {"same_vs_sig": ("SAME", "SIG"), "diff_vs_sig": ("DIFF", "SIG"), "same_vs_diff": ("SAME", "DIFF")}
)

#: Default training parameters (read-only); ``params`` passed to :func:`train_veto`
#: override individual keys.
DEFAULT_VETO_PARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "pi0_window": (0.08, 0.19),
        "eta_window": (0.40, 0.70),
        "n_estimators": 200,
        "max_depth": 4,
        "learning_rate": 0.1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 1.0,
        "reg_lambda": 1.0,
        "max_bin": 256,
        "nthread": 0,  # 0: all cores (1 is fastest for small tables); results do not depend on it
        "n_folds": 3,
        "combiner_C": 1.0,
        "weight_column": None,
    }
)

_PHOTON_KEYS = ("_sample", "event_id", "a_index")
_A_COLUMNS = (("e9e21", "e9e21_a"), ("emax", "emax_a"), ("nweight", "nweight_a"), ("region", "region_a"))
_EPS = 1e-6


@dataclass(frozen=True)
class VetoModel:
    """Trained π⁰/η veto.

    Attributes
    ----------
    boosters : dict
        ``boosters[h][test]`` is the classifier (:class:`~alpscan.mva.classifier.BDTModel`)
        of test ``test`` (see :data:`TESTS`) for hypothesis ``h`` (see :data:`HYPOTHESES`).
    combiners : dict
        ``combiners[h] = {"coef": [w_1, w_2, w_3], "intercept": b}``: logistic
        regression on the logits of the per-photon best scores, in :data:`TESTS` order.
    windows : dict
        ``windows[h] = (lo, hi)`` diphoton-mass window (GeV) of the pairs used.
    features : tuple of str
        BDT input columns.
    params : dict
        Training parameters (defaults merged with the user's) and the seed.
    info : dict
        Training diagnostics (class sizes, out-of-fold combiner AUC, ...).
    """

    boosters: dict[str, dict[str, BDTModel]]
    combiners: dict[str, dict[str, Any]]
    windows: dict[str, tuple[float, float]]
    features: tuple[str, ...] = VETO_FEATURES
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- features


def _photon_table(candidates: pd.DataFrame) -> pd.DataFrame:
    """Long table (event_id, a_index) of the candidate photons' own cluster shape."""
    if not candidates["event_id"].is_unique:
        raise ValueError("candidate table must have one row per event_id")
    frames = []
    for j in (0, 1):
        g = f"_gamma{j + 1}"
        d = {"event_id": candidates["event_id"].to_numpy(), "a_index": np.full(len(candidates), j)}
        for src, dst in _A_COLUMNS:
            d[dst] = candidates[src + g].to_numpy()
        for col, dst in ((f"parent{g}", "parent_a"), (f"e{g}_cm", "e_a_cm")):  # optional
            if col in candidates:
                d[dst] = candidates[col].to_numpy()
        frames.append(pd.DataFrame(d))
    return pd.concat(frames, ignore_index=True)


def pair_features(pairs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Join the a photon's own cluster shape onto each photon pair.

    Parameters
    ----------
    pairs : DataFrame
        Pair table of one sample (``event_id``, ``a_index``, ``m_pair``, ``e_partner``,
        ``e_pair``, ``cos_open``, ``pt_pair``, ``e_asym``, partner cluster shapes, and
        optionally the truth columns).
    candidates : DataFrame
        Candidate table of the same sample, one row per ``event_id``, with
        ``e9e21_gamma{1,2}``, ``emax_gamma{1,2}``, ``nweight_gamma{1,2}``,
        ``region_gamma{1,2}`` (``parent_gamma{1,2}``, ``e_gamma{1,2}_cm`` if present).

    Returns
    -------
    DataFrame
        The pairs whose event is in ``candidates`` (inner join, pair order kept, index
        reset) with all pair columns plus ``e9e21_a``, ``emax_a``, ``nweight_a``,
        ``region_a``, ``e_a = e_pair - e_partner`` (lab energy of the a photon) and,
        when available, ``parent_a`` and ``e_a_cm``.  Contains every column of
        :data:`VETO_FEATURES`.
    """
    photons = _photon_table(candidates)
    if len(pairs) == 0 or "event_id" not in pairs:
        cols = dict.fromkeys(("event_id", "a_index", *VETO_FEATURES), pd.Series([], dtype=float))
        out = pd.DataFrame(cols)
        out["event_id"] = out["event_id"].astype(np.int64)
        out["a_index"] = out["a_index"].astype(np.int64)
        return out
    out = pairs.merge(
        photons, on=["event_id", "a_index"], how="inner", sort=False, validate="many_to_one"
    )
    out["e_a"] = out["e_pair"] - out["e_partner"]
    return out.reset_index(drop=True)


def best_partner_scores(
    pairs: pd.DataFrame, scores: np.ndarray, keys: Sequence[str] = ("event_id", "a_index")
) -> pd.DataFrame:
    """Per a photon, the maximum of each score column over its partners.

    Parameters
    ----------
    pairs : DataFrame
        Pair rows (only the ``keys`` columns are used).
    scores : ndarray, shape (n_pairs,) or (n_pairs, k)
        Scores aligned with the rows of ``pairs``.
    keys : sequence of str
        Columns identifying one a photon.

    Returns
    -------
    DataFrame
        Indexed by ``keys`` (sorted), one column per score (``score`` for 1-D input,
        ``score_0..score_{k-1}`` otherwise), holding the best (maximal) score.
    """
    s = np.asarray(scores, dtype=float)
    s2 = s[:, None] if s.ndim == 1 else s
    names = ["score"] if s.ndim == 1 else [f"score_{i}" for i in range(s2.shape[1])]
    df = pd.DataFrame(s2, columns=names)
    for k in keys:
        df[k] = pairs[k].to_numpy()
    return df.groupby(list(keys), sort=True)[names].max()


# ----------------------------------------------------------------------------- helpers


def _as_list(x: pd.DataFrame | Sequence[pd.DataFrame]) -> list[pd.DataFrame]:
    return [x] if isinstance(x, pd.DataFrame) else list(x)


def _stack(
    pairs_list: list[pd.DataFrame], cands_list: list[pd.DataFrame], offset: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pair features and photon table of several samples with a ``_sample`` key."""
    if len(pairs_list) != len(cands_list):
        raise ValueError("need one candidate table per pair table")
    feats, phots = [], []
    for i, (p, c) in enumerate(zip(pairs_list, cands_list, strict=True)):
        f = pair_features(p, c)
        f["_sample"] = offset + i
        feats.append(f)
        ph = _photon_table(c)
        ph["_sample"] = offset + i
        if "weight" in c:
            ph["_cand_weight"] = np.tile(c["weight"].to_numpy(), 2)
        phots.append(ph)
    return pd.concat(feats, ignore_index=True), pd.concat(phots, ignore_index=True)


def _in_window(m: np.ndarray, window: Sequence[float]) -> np.ndarray:
    return (m >= window[0]) & (m <= window[1])


def _matrix(df: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    return df.loc[:, list(features)].to_numpy(dtype=np.float32)


def _bdt_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The xgboost part of the veto parameters, for :func:`alpscan.mva.classifier.xgb_params`."""
    return {
        "n_estimators": int(params["n_estimators"]),
        "max_depth": int(params["max_depth"]),
        "learning_rate": float(params["learning_rate"]),
        "subsample": float(params["subsample"]),
        "colsample_bytree": float(params["colsample_bytree"]),
        "min_child_weight": float(params["min_child_weight"]),
        "reg_lambda": float(params["reg_lambda"]),
        "max_bin": int(params["max_bin"]),
        "nthread": int(params["nthread"]),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _combine(combiner: Mapping[str, Any], best: np.ndarray) -> np.ndarray:
    z = _logit(best) @ np.asarray(combiner["coef"], dtype=float) + float(combiner["intercept"])
    return 1.0 / (1.0 + np.exp(-z))


def _pair_classes(feat: pd.DataFrame, code: int) -> dict[str, np.ndarray]:
    """Boolean masks of the SIG / SAME / DIFF pair classes for parent code ``code``."""
    is_sig = feat["_is_sig"].to_numpy()
    same = feat["same_parent"].to_numpy(dtype=bool)
    a_par = feat["a_parent"].to_numpy()
    return {
        "SIG": is_sig & (a_par == PARENT_SAME) & ~same,
        "SAME": ~is_sig & same & (a_par == code),
        "DIFF": ~is_sig & ~same & (a_par == code),
    }


def _train_tests(
    x: np.ndarray,
    w: np.ndarray,
    classes: Mapping[str, np.ndarray],
    rows: np.ndarray,
    params: Mapping[str, Any],
    seeds: Sequence[int],
) -> dict[str, BDTModel]:
    """The three class-balanced BDTs, trained on the pairs selected by ``rows``."""
    out = {}
    for test, seed in zip(TESTS, seeds, strict=True):
        pos, neg = _TEST_CLASSES[test]
        sel = rows & (classes[pos] | classes[neg])
        out[test] = train_labelled(
            x[sel], classes[pos][sel].astype(int), w[sel], _bdt_params(params), seed,
            features=VETO_FEATURES, meta={"test": test},
        )
    return out


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC, or None when ``y`` holds a single class."""
    if y.all() or not y.any():
        return None
    return roc_auc(s, y)


# ----------------------------------------------------------------------------- training


def train_veto(
    pairs_sig: pd.DataFrame | Sequence[pd.DataFrame],
    cands_sig: pd.DataFrame | Sequence[pd.DataFrame],
    pairs_bkg: pd.DataFrame | Sequence[pd.DataFrame],
    cands_bkg: pd.DataFrame | Sequence[pd.DataFrame],
    params: Mapping[str, Any] | None,
    seed: int,
) -> VetoModel:
    """Train the three BDTs and the combiner for the π⁰ and the η hypotheses.

    Parameters
    ----------
    pairs_sig, cands_sig : DataFrame or sequence of DataFrame
        Pair and candidate tables of the signal sample(s) (matching order); must carry
        the truth columns ``same_parent``, ``a_parent`` (pairs) and
        ``parent_gamma{1,2}`` (candidates).
    pairs_bkg, cands_bkg : DataFrame or sequence of DataFrame
        The same for the background sample(s) (continuum, BB̄, ...).
    params : mapping or None
        Overrides of :data:`DEFAULT_VETO_PARAMS`.
    seed : int
        Seed of the fold split and of the xgboost sub-sampling.

    Returns
    -------
    VetoModel

    Raises
    ------
    ValueError
        If a pair class or a combiner class is empty for a hypothesis.
    """
    par = dict(DEFAULT_VETO_PARAMS)
    par.update(params or {})
    unknown = set(par) - set(DEFAULT_VETO_PARAMS)
    if unknown:
        raise ValueError(f"unknown veto parameters: {sorted(unknown)}")
    par["seed"] = int(seed)
    n_folds = int(par["n_folds"])
    if n_folds < 2:
        raise ValueError("n_folds must be >= 2")

    ps, cs = _as_list(pairs_sig), _as_list(cands_sig)
    pb, cb = _as_list(pairs_bkg), _as_list(cands_bkg)
    f_sig, ph_sig = _stack(ps, cs, 0)
    f_bkg, ph_bkg = _stack(pb, cb, len(ps))
    f_sig["_is_sig"], f_bkg["_is_sig"] = True, False
    ph_sig["_is_sig"], ph_bkg["_is_sig"] = True, False
    feat = pd.concat([f_sig, f_bkg], ignore_index=True)
    phot = pd.concat([ph_sig, ph_bkg], ignore_index=True)
    if "parent_a" not in phot:
        raise ValueError("candidate tables need parent_gamma1/parent_gamma2 for training")

    wcol = par["weight_column"]
    if wcol is None:
        w_all = np.ones(len(feat))
    else:
        wmap = phot.set_index(list(_PHOTON_KEYS))["_cand_weight"]
        w_all = wmap.reindex(pd.MultiIndex.from_frame(feat[list(_PHOTON_KEYS)])).to_numpy(dtype=float)
        w_all = np.where(np.isfinite(w_all), w_all, 0.0)

    # event-level fold assignment (all pairs and both photons of an event together)
    rng = np.random.default_rng(seed)
    events = phot[["_sample", "event_id"]].drop_duplicates().sort_values(["_sample", "event_id"])
    events = events.assign(_fold=rng.integers(0, n_folds, size=len(events)))
    fold = feat[["_sample", "event_id"]].merge(events, on=["_sample", "event_id"], how="left")["_fold"]
    fold = fold.to_numpy()
    seed_words = np.random.SeedSequence(seed).generate_state(2 * (n_folds + 1) * len(TESTS))
    seed_iter = iter(int(s) for s in seed_words)

    features = VETO_FEATURES
    phot_idx = phot.set_index(list(_PHOTON_KEYS))
    # validate every hypothesis before any training
    prepared = {}
    for h in HYPOTHESES:
        code = _PARENT_CODE[h]
        window = (float(par[f"{h}_window"][0]), float(par[f"{h}_window"][1]))
        inw = _in_window(feat["m_pair"].to_numpy(), window)
        fw = feat.loc[inw].reset_index(drop=True)
        classes = _pair_classes(fw, code)
        for name, m in classes.items():
            if not m.any():
                raise ValueError(f"veto ({h}): no {name} pairs in window {window}")
        keys = fw[list(_PHOTON_KEYS)].drop_duplicates().sort_values(list(_PHOTON_KEYS))
        ph = phot_idx.loc[pd.MultiIndex.from_frame(keys)]
        is_sig = ph["_is_sig"].to_numpy()
        parent = ph["parent_a"].to_numpy()
        use = (is_sig & (parent == PARENT_SAME)) | (~is_sig & (parent == code))
        y = (~is_sig & (parent == code))[use].astype(int)
        if y.all() or not y.any():
            raise ValueError(
                f"veto ({h}): combiner needs signal and {h} photons with in-window partners"
            )
        prepared[h] = (window, inw, fw, classes, pd.MultiIndex.from_frame(keys), use, y)

    boosters, combiners, windows, info = {}, {}, {}, {}
    for h in HYPOTHESES:
        window, inw, fw, classes, photon_index, use, y = prepared[h]
        windows[h] = window
        x, w, fw_fold = _matrix(fw, features), w_all[inw], fold[inw]

        # out-of-fold pair scores -> per-photon best scores for the combiner
        oof = np.full((len(fw), len(TESTS)), np.nan)
        for k in range(n_folds):
            hold = fw_fold == k
            fold_boosters = _train_tests(x, w, classes, ~hold, par, [next(seed_iter) for _ in TESTS])
            for i, test in enumerate(TESTS):
                oof[hold, i] = predict(fold_boosters[test], x[hold])
        best = best_partner_scores(fw, oof, keys=_PHOTON_KEYS).reindex(photon_index).to_numpy()[use]
        lr = LogisticRegression(
            C=float(par["combiner_C"]), class_weight="balanced", solver="lbfgs", max_iter=1000
        )
        lr.fit(_logit(best), y)
        combiners[h] = {"coef": [float(v) for v in lr.coef_[0]], "intercept": float(lr.intercept_[0])}

        # final BDTs on all events
        boosters[h] = _train_tests(
            x, w, classes, np.ones(len(fw), bool), par, [next(seed_iter) for _ in TESTS]
        )

        info[h] = {
            "n_pairs": {name: int(m.sum()) for name, m in classes.items()},
            "n_photons_combiner": {"signal": int((y == 0).sum()), h: int((y == 1).sum())},
            "oof_auc_per_test": {t: _auc(y, best[:, i]) for i, t in enumerate(TESTS)},
            "oof_auc_combined": _auc(y, _combine(combiners[h], best)),
        }
    return VetoModel(
        boosters=boosters, combiners=combiners, windows=windows, features=features, params=par, info=info
    )


# ----------------------------------------------------------------------------- application


def photon_probabilities(
    model: VetoModel, pairs: pd.DataFrame, candidates: pd.DataFrame
) -> pd.DataFrame:
    """Per a photon: best partner score of each test and P(h) for each hypothesis.

    Parameters
    ----------
    model : VetoModel
    pairs, candidates : DataFrame
        Pair and candidate tables of one sample.

    Returns
    -------
    DataFrame
        One row per candidate photon (``event_id``, ``a_index`` in candidate order, γ₁
        rows then γ₂ rows) with ``p_pi0``, ``p_eta``, ``n_partners_{h}`` (partners
        inside the window) and ``best_{h}_{test}`` (NaN without partner).  Photons
        without any in-window partner have ``p_{h} = 0``.
    """
    phot = _photon_table(candidates)[["event_id", "a_index"]]
    out = phot.copy()
    feat = pair_features(pairs, candidates)
    idx = pd.MultiIndex.from_frame(phot)
    for h in HYPOTHESES:
        inw = _in_window(feat["m_pair"].to_numpy(), model.windows[h])
        fw = feat.loc[inw]
        x = _matrix(fw, model.features)
        scores = (
            np.column_stack([predict(model.boosters[h][t], x) for t in TESTS])
            if len(fw)
            else np.empty((0, 3))
        )
        best = best_partner_scores(fw, scores).reindex(idx)
        n_part = fw.groupby(["event_id", "a_index"]).size().reindex(idx).fillna(0).to_numpy(dtype=int)
        b = best.to_numpy()
        has = n_part > 0
        p = np.zeros(len(phot))
        if has.any():
            p[has] = _combine(model.combiners[h], b[has])
        out[f"p_{h}"] = p
        out[f"n_partners_{h}"] = n_part
        for i, t in enumerate(TESTS):
            out[f"best_{h}_{t}"] = b[:, i]
    return out.reset_index(drop=True)


def veto_probabilities(model: VetoModel, pairs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Candidate-level π⁰/η veto probabilities.

    Parameters
    ----------
    model : VetoModel
    pairs, candidates : DataFrame
        Pair and candidate tables of one sample (``event_id`` unique in
        ``candidates``).

    Returns
    -------
    DataFrame
        One row per candidate, in the order of ``candidates``, with ``event_id``,
        ``p_pi0_gamma1``, ``p_pi0_gamma2``, ``p_eta_gamma1``, ``p_eta_gamma2``,
        ``p_pi0 = max(p_pi0_gamma1, p_pi0_gamma2)`` and ``p_eta`` likewise.  A photon
        without a partner in the hypothesis' mass window (e.g. an event absent from the
        pair table) has probability 0.
    """
    ph = photon_probabilities(model, pairs, candidates)
    n = len(candidates)
    out = pd.DataFrame({"event_id": candidates["event_id"].to_numpy()})
    for h in HYPOTHESES:
        p = ph[f"p_{h}"].to_numpy()
        out[f"p_{h}_gamma1"] = p[:n]
        out[f"p_{h}_gamma2"] = p[n:]
    for h in HYPOTHESES:
        out[f"p_{h}"] = np.maximum(out[f"p_{h}_gamma1"], out[f"p_{h}_gamma2"])
    return out


# ----------------------------------------------------------------------------- persistence


def _model_file(h: str, test: str) -> str:
    return f"{h}_{test}.json"


def save_veto(model: VetoModel, path: str | Path) -> Path:
    """Write ``model`` to the directory ``path`` (created if needed).

    Files: ``{h}_{test}.json`` (xgboost JSON boosters) and ``veto.json`` (combiner,
    windows, features, parameters, diagnostics).

    Returns
    -------
    Path
        The directory.
    """
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    for h in HYPOTHESES:
        for t in TESTS:
            save_model(model.boosters[h][t], d / _model_file(h, t))
    meta = {
        "format": "alpscan-veto-1",
        "hypotheses": list(HYPOTHESES),
        "tests": list(TESTS),
        "features": list(model.features),
        "windows": {h: list(model.windows[h]) for h in HYPOTHESES},
        "combiners": {h: model.combiners[h] for h in HYPOTHESES},
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.params.items()},
        "info": model.info,
        "boosters": {h: {t: _model_file(h, t) for t in TESTS} for h in HYPOTHESES},
    }
    (d / "veto.json").write_text(json.dumps(meta, indent=2, allow_nan=False))
    return d


def load_veto(path: str | Path) -> VetoModel:
    """Read a model written by :func:`save_veto` from the directory ``path``."""
    d = Path(path)
    meta = json.loads((d / "veto.json").read_text())
    if meta.get("format") != "alpscan-veto-1":
        raise ValueError(f"{d}: not an alpscan veto model")
    boosters = {h: {t: load_model(d / meta["boosters"][h][t]) for t in TESTS} for h in HYPOTHESES}
    return VetoModel(
        boosters=boosters,
        combiners={
            h: {"coef": list(c["coef"]), "intercept": float(c["intercept"])}
            for h, c in meta["combiners"].items()
        },
        windows={h: (float(v[0]), float(v[1])) for h, v in meta["windows"].items()},
        features=tuple(meta["features"]),
        params=dict(meta["params"]),
        info=dict(meta["info"]),
    )
