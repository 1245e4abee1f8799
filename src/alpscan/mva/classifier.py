"""Gradient-boosted decision trees (xgboost) of the selection: training with class-balanced
weights, prediction, save/load as self-describing JSON, per-mass-region models and AUC.

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
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from alpscan.mva.features import MASS_BOUNDARY_GEV, MASS_REGIONS, check_no_forbidden

__all__ = [
    "DEFAULT_BDT_PARAMS",
    "BDTModel",
    "xgb_params",
    "balanced_weights",
    "train_bdt",
    "train_labelled",
    "predict",
    "save_model",
    "load_model",
    "train_by_mass_region",
    "predict_by_mass_region",
    "roc_auc",
]

#: Default training parameters (xgboost native names; ``num_boost_round`` = trees) [T].
DEFAULT_BDT_PARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "num_boost_round": 300,
        "eta": 0.05,
        "max_depth": 4,
        "min_child_weight": 5.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "lambda": 1.0,
        "alpha": 0.0,
        "gamma": 0.0,
        "max_bin": 256,
        "nthread": 1,
    }
)

_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "n_estimators": "num_boost_round",
        "learning_rate": "eta",
        "reg_lambda": "lambda",
        "reg_alpha": "alpha",
        "n_jobs": "nthread",
        "min_split_loss": "gamma",
    }
)

# Keys fixed by this module (not overridable): tree method, objective, seed.
_FIXED = ("tree_method", "objective", "seed", "random_state")


@dataclass(frozen=True)
class BDTModel:
    """A trained binary classifier and its ordered input columns.

    Attributes
    ----------
    booster : xgboost.Booster
        The trained model (probability output = ``binary:logistic``).
    features : tuple of str
        Input column names, in the order the booster expects them.
    meta : dict
        Free-form JSON-serialisable metadata (e.g. ``{"region": "low"}``); stored in
        the saved file.
    """

    booster: xgb.Booster
    features: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)


def xgb_params(params: Mapping[str, Any] | None, seed: int) -> tuple[dict[str, Any], int]:
    """Merge ``params`` with the defaults and translate them for ``xgboost.train``.

    Parameters
    ----------
    params : mapping or None
        User parameters (native xgboost names or the sklearn aliases listed in
        docs/selection.md).  ``tree_method``, ``objective`` and ``seed`` may not be set.
    seed : int
        Random seed (row/column subsampling), taken modulo 2³².

    Returns
    -------
    booster_params : dict
        Parameters for :func:`xgboost.train`.
    num_boost_round : int
        Number of boosting rounds.
    """
    merged: dict[str, Any] = dict(DEFAULT_BDT_PARAMS)
    for key, val in (params or {}).items():
        key = _ALIASES.get(key, key)
        if key in _FIXED:
            raise ValueError(f"parameter {key!r} is fixed by alpscan.mva.classifier")
        merged[key] = val
    n_rounds = int(merged.pop("num_boost_round"))
    if n_rounds < 1:
        raise ValueError("num_boost_round must be >= 1")
    merged.update(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        seed=int(seed) % 2**32,
        nthread=int(merged["nthread"]),
        verbosity=0,
    )
    return merged, n_rounds


def balanced_weights(w_sig, w_bkg) -> tuple[np.ndarray, np.ndarray]:
    """Rescale the two classes to equal total weight and unit mean weight overall.

    Parameters
    ----------
    w_sig, w_bkg : array_like
        Non-negative per-event weights of each class (``None`` means all ones is not
        accepted here; pass ``np.ones``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(w_sig', w_bkg')`` with ``sum(w_sig') = sum(w_bkg') = (N_sig + N_bkg)/2``.

    Raises
    ------
    ValueError
        On negative or non-finite weights or a class of zero total weight.
    """
    ws = np.asarray(w_sig, dtype=np.float64)
    wb = np.asarray(w_bkg, dtype=np.float64)
    for w in (ws, wb):
        if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite, non-negative 1-D arrays")
        if w.sum() <= 0:
            raise ValueError("a class has zero total weight")
    half = 0.5 * (ws.size + wb.size)
    return ws * (half / ws.sum()), wb * (half / wb.sum())


def _common_scale(w_sig, w_bkg) -> tuple[np.ndarray, np.ndarray]:
    """Rescale both classes by one common factor so that the mean weight is one."""
    ws = np.asarray(w_sig, dtype=np.float64)
    wb = np.asarray(w_bkg, dtype=np.float64)
    balanced_weights(ws, wb)  # validation only
    scale = (ws.size + wb.size) / (ws.sum() + wb.sum())
    return ws * scale, wb * scale


def _as_matrix(X, features: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Convert a DataFrame (columns selected by ``features``) or array to float32."""
    if isinstance(X, pd.DataFrame):
        cols = tuple(X.columns) if features is None else tuple(features)
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise KeyError(f"missing feature columns: {missing}")
        arr = X.loc[:, list(cols)].to_numpy(dtype=np.float64)
    else:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError("X must be 2-D")
        cols = tuple(f"f{i}" for i in range(arr.shape[1])) if features is None else tuple(features)
        if len(cols) != arr.shape[1]:
            raise ValueError(f"X has {arr.shape[1]} columns but {len(cols)} feature names")
    if not np.all(np.isfinite(arr)):
        raise ValueError("non-finite feature values")
    return arr.astype(np.float32), cols


def _make_model(booster: xgb.Booster, features: tuple[str, ...], meta: Mapping[str, Any]):
    booster.feature_names = list(features)
    booster.set_attr(
        alpscan_features=json.dumps(list(features)),
        alpscan_meta=json.dumps(dict(meta), sort_keys=True),
    )
    return BDTModel(booster=booster, features=features, meta=dict(meta))


def train_bdt(
    X_sig,
    X_bkg,
    w_sig=None,
    w_bkg=None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    features: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    balance: bool = True,
) -> BDTModel:
    """Train a signal-vs-background BDT with class-balanced weights.

    Parameters
    ----------
    X_sig, X_bkg : pandas.DataFrame or array_like, shape (n, d)
        Signal and background inputs.  For DataFrames the columns ``features`` (default:
        all columns of ``X_sig``) are used; arrays must have ``d`` columns in the order
        of ``features`` (default names ``f0``, ``f1``, …).
    w_sig, w_bkg : array_like, optional
        Non-negative per-event weights (default: ones).  Only their relative size within
        each class matters; see :func:`balanced_weights`.
    params : mapping, optional
        Training parameters (see docs/selection.md and :data:`DEFAULT_BDT_PARAMS`).
    seed : int, optional
        Random seed.
    features : sequence of str, optional
        Input column names (checked against
        :data:`alpscan.mva.features.FORBIDDEN_VARIABLES`).
    meta : mapping, optional
        JSON-serialisable metadata stored with the model.
    balance : bool, optional
        If true (default), rescale the classes to equal total weight
        (:func:`balanced_weights`).  If false, keep the relative class totals and only
        rescale all weights by one common factor to unit mean (used by the
        off-resonance reweighter, whose odds must carry the class prior).

    Returns
    -------
    BDTModel
        The trained classifier; :func:`predict` gives P(signal).
    """
    if features is None and isinstance(X_sig, pd.DataFrame):
        features = tuple(X_sig.columns)
    xs, cols = _as_matrix(X_sig, features)
    xb, _ = _as_matrix(X_bkg, cols)
    if features is not None:
        check_no_forbidden(cols)
    if len(xs) == 0 or len(xb) == 0:
        raise ValueError("both classes need at least one event")
    ws = np.ones(len(xs)) if w_sig is None else np.asarray(w_sig, dtype=np.float64)
    wb = np.ones(len(xb)) if w_bkg is None else np.asarray(w_bkg, dtype=np.float64)
    if ws.shape != (len(xs),) or wb.shape != (len(xb),):
        raise ValueError("weights must have one entry per event")
    label = np.concatenate([np.ones(len(xs)), np.zeros(len(xb))])
    return train_labelled(
        np.concatenate([xs, xb]),
        label,
        np.concatenate([ws, wb]),
        params,
        seed,
        features=cols,
        meta=meta,
        balance=balance,
    )


def train_labelled(
    x: np.ndarray,
    label: np.ndarray,
    weight: np.ndarray,
    params: Mapping[str, Any] | None,
    seed: int,
    *,
    features: Sequence[str],
    meta: Mapping[str, Any] | None = None,
    balance: bool = True,
) -> BDTModel:
    """Train a BDT on rows in their given order (``label`` 1 = signal, 0 = background).

    The row order is kept (xgboost's row subsampling depends on it); the weights are
    rescaled as in :func:`train_bdt` (``balance``).  ``x`` must be a float32 matrix with
    the columns ``features``.
    """
    y = np.asarray(label) == 1
    if y.all() or not y.any():
        raise ValueError("BDT training needs events of both classes")
    w = np.asarray(weight, dtype=np.float64).copy()
    rescale = balanced_weights if balance else _common_scale
    w[y], w[~y] = rescale(w[y], w[~y])
    bparams, n_rounds = xgb_params(params, seed)
    dtrain = xgb.DMatrix(
        x,
        label=y.astype(np.float64),
        weight=w,
        feature_names=list(features),
        nthread=bparams["nthread"],
    )
    booster = xgb.train(bparams, dtrain, num_boost_round=n_rounds, verbose_eval=False)
    return _make_model(booster, tuple(features), meta or {})


def predict(model: BDTModel, X, *, output_margin: bool = False) -> np.ndarray:
    """Classifier output for each row of ``X``.

    Parameters
    ----------
    model : BDTModel
        Trained classifier.
    X : pandas.DataFrame or array_like
        Inputs; a DataFrame must contain ``model.features`` (extra columns are ignored),
        an array must have exactly those columns in that order.
    output_margin : bool, optional
        Return the raw log-odds instead of the probability.

    Returns
    -------
    numpy.ndarray
        float64 P(signal) in [0, 1] (or log-odds), one per row.
    """
    arr, _ = _as_matrix(X, model.features)
    if len(arr) == 0:
        return np.zeros(0)
    dm = xgb.DMatrix(arr, feature_names=list(model.features))
    return model.booster.predict(dm, output_margin=output_margin).astype(np.float64)


def save_model(model: BDTModel, path: str | Path) -> None:
    """Write a classifier as xgboost JSON (feature list and metadata included).

    Parameters
    ----------
    model : BDTModel
        Classifier to save.
    path : str or pathlib.Path
        Output file; must end in ``.json``.  Parent directories are created.
    """
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError("model files are xgboost JSON and must end in .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.booster.save_model(str(path))


def load_model(path: str | Path, *, nthread: int = 1) -> BDTModel:
    """Read a classifier written by :func:`save_model`.

    Parameters
    ----------
    path : str or pathlib.Path
        xgboost JSON model file.
    nthread : int, optional
        Threads used for prediction (default 1).

    Returns
    -------
    BDTModel
        The classifier, with its feature list and metadata.
    """
    booster = xgb.Booster(model_file=str(path))
    feats = booster.attr("alpscan_features")
    features = tuple(json.loads(feats)) if feats else tuple(booster.feature_names or ())
    if not features:
        raise ValueError(f"{path}: no feature list stored in the model")
    meta = json.loads(booster.attr("alpscan_meta") or "{}")
    booster.set_param({"nthread": int(nthread)})
    return BDTModel(booster=booster, features=features, meta=meta)


def _region_masks(m, boundary: float) -> dict[str, np.ndarray]:
    m = np.asarray(m, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError("non-finite masses")
    return {MASS_REGIONS[0]: m < boundary, MASS_REGIONS[1]: m >= boundary}


def train_by_mass_region(
    sig: pd.DataFrame,
    bkg: pd.DataFrame,
    features: Sequence[str],
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    weight_col: str | None = "weight",
    mass_col: str = "m_gg",
    boundary: float = MASS_BOUNDARY_GEV,
) -> dict[str, BDTModel]:
    """Train one classifier below and one above ``boundary`` in M_γγ (spec §5).

    Parameters
    ----------
    sig, bkg : pandas.DataFrame
        Signal (uniform-mass) and background candidate tables, already restricted to the
        training split (see :func:`alpscan.mva.features.split_train`).
    features : sequence of str
        Input columns.
    params : mapping, optional
        Training parameters, as for :func:`train_bdt`.
    seed : int, optional
        Seed; the low-mass classifier uses ``seed``, the high-mass one ``seed + 1``.
    weight_col : str or None, optional
        Per-event weight column (``None``: unit weights).
    mass_col : str, optional
        Column used to assign the region (default ``m_gg``, after the kinematic fit).
    boundary : float, optional
        Region boundary in GeV (default 1.0).

    Returns
    -------
    dict
        ``{"low": BDTModel, "high": BDTModel}``; each model's ``meta`` records its
        region, the boundary and the numbers of training events.

    Raises
    ------
    ValueError
        If a region has no signal or no background events.
    """
    features = tuple(features)
    ms = _region_masks(sig[mass_col], boundary)
    mb = _region_masks(bkg[mass_col], boundary)
    models: dict[str, BDTModel] = {}
    for k, region in enumerate(MASS_REGIONS):
        s, b = sig[ms[region]], bkg[mb[region]]
        if len(s) == 0 or len(b) == 0:
            raise ValueError(f"no {'signal' if len(s) == 0 else 'background'} in region {region}")
        models[region] = train_bdt(
            s,
            b,
            None if weight_col is None else s[weight_col].to_numpy(),
            None if weight_col is None else b[weight_col].to_numpy(),
            params,
            seed + k,
            features=features,
            meta={
                "region": region,
                "boundary_gev": float(boundary),
                "mass_col": mass_col,
                "n_sig": int(len(s)),
                "n_bkg": int(len(b)),
            },
        )
    return models


def predict_by_mass_region(
    models: Mapping[str, BDTModel],
    df: pd.DataFrame,
    *,
    mass_col: str = "m_gg",
    boundary: float = MASS_BOUNDARY_GEV,
) -> np.ndarray:
    """Score each candidate with the classifier of its own mass region.

    Parameters
    ----------
    models : mapping
        ``{"low": BDTModel, "high": BDTModel}`` from :func:`train_by_mass_region`.
    df : pandas.DataFrame
        Candidates (must contain the features and ``mass_col``).
    mass_col : str, optional
        Mass column (default ``m_gg``).
    boundary : float, optional
        Region boundary in GeV; must equal the one the models were trained with if they
        recorded it.

    Returns
    -------
    numpy.ndarray
        P(signal) per row, in the row order of ``df``.
    """
    out = np.full(len(df), np.nan)
    for region, mask in _region_masks(df[mass_col], boundary).items():
        model = models[region]
        trained_b = model.meta.get("boundary_gev")
        if trained_b is not None and not np.isclose(trained_b, boundary):
            raise ValueError(f"model for {region} was trained with boundary {trained_b}")
        if np.any(mask):
            out[mask] = predict(model, df[mask])
    return out


def roc_auc(scores, labels, weights=None) -> float:
    """Area under the ROC curve (weighted), via :func:`sklearn.metrics.roc_auc_score`.

    Parameters
    ----------
    scores : array_like
        Classifier outputs (larger = more signal-like).
    labels : array_like
        1 for signal, 0 for background.
    weights : array_like, optional
        Per-event weights.

    Returns
    -------
    float
        The AUC; 0.5 for no separation, 1 for perfect separation.
    """
    return float(
        roc_auc_score(
            np.asarray(labels).astype(int),
            np.asarray(scores, dtype=np.float64),
            sample_weight=None if weights is None else np.asarray(weights, dtype=np.float64),
        )
    )
