"""Recasting an ALP model from the published likelihoods alone (``alpscan recast``).

A *model* is a Python module (a file, or one of the shipped :data:`BUILTIN_MODELS`) with

``NAME`` : str
    Readable name.
``POI`` : dict
    The coupling that is limited: ``name``, ``units``, ``label`` (axis label) and
    ``reference`` (a typical value; the yield is taken to grow like POI² from there when the
    search for the limit is started).
``SCAN`` : dict or None
    An optional second parameter held fixed per limit: ``name``, ``units``, ``label`` and
    ``values`` (the grid).  The result is then a limit on the POI over (m_a, scan value).
``branching_fraction(mode, m_a, poi, scan)``
    B(B → K(*)a)·B(a → γγ) for ``mode`` in ``Kp``, ``K0S`` (B⁰ → K⁰a: the full K⁰),
    ``Kst0``, ``Kstp``; ``m_a`` in GeV, ``poi`` an array; must be 0 at ``poi = 0`` and
    increasing.
``ctau_mm(m_a, poi, scan)``
    Proper decay length of the ALP (mm).

The expected in-window yield of a mode at a published scan point is
``k · B(m_a, poi) · r(m_a, cτ(m_a, poi)) · θ + b`` (see :mod:`alpscan.reuse.hepdata`), with k,
b, the profile curves and r all read from the HEPData record; the CLs limit on the POI
combines the modes exactly as the workflow's g_aW limit does
(:func:`alpscan.stats.limits.combined_limits`), so recasting the W-coupled ALP reproduces
the published g_aW table.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from alpscan.reuse.hepdata import SIGMA_EFF_QUALIFIER, read_record, record_table
from alpscan.stats.limits import ProfileCurve, combined_limits
from alpscan.stats.limit_tables import longlived_ratio_function

__all__ = [
    "BUILTIN_MODELS",
    "ModelError",
    "RecordError",
    "Likelihood",
    "load_model",
    "load_likelihood",
    "recast",
]

#: Shipped models: command-line name → module.
BUILTIN_MODELS = {
    "w-coupled": "alpscan.reuse.models.w_coupled",
    "photophilic": "alpscan.reuse.models.photophilic",
}
RESULT_COLUMNS = ("poi_ul_obs", "poi_ul_exp", "poi_ul_exp_m2", "poi_ul_exp_m1", "poi_ul_exp_p1",
                  "poi_ul_exp_p2")  # fmt: skip


class ModelError(ValueError):
    """A model file that is missing, malformed or gives unusable predictions."""


class RecordError(ValueError):
    """A HEPData record that is missing or lacks what the recast needs."""


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------
def load_model(spec: str) -> ModuleType:
    """A model module: a name of :data:`BUILTIN_MODELS` or the path of a ``.py`` file.

    Raises
    ------
    ModelError
        Unknown name, missing file, import error, or a missing/invalid attribute (named).
    """
    if spec in BUILTIN_MODELS:
        module = importlib.import_module(BUILTIN_MODELS[spec])
    else:
        path = Path(spec)
        if path.suffix != ".py":
            raise ModelError(f"model {spec!r}: neither a shipped model {sorted(BUILTIN_MODELS)} "
                             "nor a .py file")
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        loader_spec = importlib.util.spec_from_file_location(f"alpscan_model_{path.stem}", path)
        module = importlib.util.module_from_spec(loader_spec)
        try:
            loader_spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - any error in user code is a malformed model
            raise ModelError(f"model file {path}: {type(err).__name__}: {err}") from err
    _check_model(module, spec)
    return module


def _check_model(module: ModuleType, spec: str) -> None:
    def fail(msg):
        raise ModelError(f"model {spec!r}: {msg}")

    if not isinstance(getattr(module, "NAME", None), str):
        fail("NAME (a string) is missing")
    poi = getattr(module, "POI", None)
    if not isinstance(poi, dict):
        fail("POI (a dict with name, units, label, reference) is missing")
    for key in ("name", "units", "label", "reference"):
        if key not in poi:
            fail(f"POI lacks {key!r}")
    if not (isinstance(poi["reference"], (int, float)) and poi["reference"] > 0):
        fail("POI['reference'] must be a positive number")
    scan = getattr(module, "SCAN", None)
    if scan is not None:
        if not isinstance(scan, dict) or any(k not in scan for k in ("name", "units", "label",
                                                                     "values")):  # fmt: skip
            fail("SCAN must be None or a dict with name, units, label, values")
        values = np.asarray(scan["values"], dtype=float)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            fail("SCAN['values'] must be a non-empty list of finite numbers")
    for fn in ("branching_fraction", "ctau_mm"):
        if not callable(getattr(module, fn, None)):
            fail(f"function {fn}(...) is missing")


def _scan_values(model: ModuleType) -> list:
    scan = getattr(model, "SCAN", None)
    return [None] if scan is None else [float(v) for v in scan["values"]]


def _predict(model: ModuleType, mode: str, m_a: float, poi: np.ndarray, scan):
    """B·B(a → γγ) and cτ (mm) of the model, checked (ModelError names the problem)."""
    try:
        br = np.broadcast_to(np.asarray(model.branching_fraction(mode, m_a, poi, scan), float),
                             poi.shape)  # fmt: skip
        ctau = np.broadcast_to(np.asarray(model.ctau_mm(m_a, poi, scan), float), poi.shape)
    except (KeyError, ValueError, TypeError, ZeroDivisionError) as err:
        raise ModelError(f"model {model.NAME!r} at mode {mode}, m_a = {m_a:g} GeV: "
                         f"{type(err).__name__}: {err}") from err
    if np.any(np.isnan(br)) or np.any(br < 0):
        raise ModelError(f"model {model.NAME!r}: branching_fraction is negative or NaN at mode "
                         f"{mode}, m_a = {m_a:g} GeV")
    if np.any(np.isnan(ctau)) or np.any(ctau < 0):
        raise ModelError(f"model {model.NAME!r}: ctau_mm is negative or NaN at m_a = {m_a:g} GeV")
    return br, ctau


# ---------------------------------------------------------------------------------------
# The published likelihood
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModeLikelihood:
    """Published likelihood of one mode: the scan points and their profile curves."""

    points: pd.DataFrame
    observed: tuple[ProfileCurve, ...]
    asimov: tuple[ProfileCurve, ...]
    longlived_fits: pd.DataFrame


@dataclass(frozen=True)
class Likelihood:
    """Everything a recast needs, read from a HEPData record."""

    modes: dict[str, ModeLikelihood]
    sigma_eff: float
    cl: float
    gaw: pd.DataFrame


def _curves(long: pd.DataFrame, points: pd.DataFrame, prefix: str) -> tuple[ProfileCurve, ...]:
    out = []
    for m_a, n_hat in zip(points["m_a"], points[f"{prefix}_n_hat"]):
        rows = long[long["m_a"] == m_a].sort_values("n_sig")
        if rows.empty:
            raise RecordError(f"no profile curve at m_a = {m_a} GeV")
        out.append(ProfileCurve(rows["n_sig"].to_numpy(float), rows["dnll"].to_numpy(float),
                                float(n_hat), 0.0))  # fmt: skip
    return tuple(out)


def load_likelihood(record, modes: Sequence[str] | None = None) -> Likelihood:
    """Read the published likelihood of ``modes`` (default: all in the record).

    Raises
    ------
    RecordError
        Missing record (the message says how to make one), or an unknown mode.
    """
    record = Path(record)
    try:
        tables = read_record(record)
    except FileNotFoundError as err:
        raise RecordError(f"{err}; run the workflow first (snakemake --cores N) or pass "
                          "--record DIR") from err
    available = [n.removeprefix("Likelihood points ") for n in tables
                 if n.startswith("Likelihood points ")]  # fmt: skip
    if modes is None:
        modes = available
    unknown = [m for m in modes if m not in available]
    if unknown:
        raise RecordError(f"unknown mode(s) {unknown}: the record {record} has {available}")
    out, sigma_eff, cl = {}, None, None
    for mode in modes:
        points, quals = record_table(record, f"Likelihood points {mode}")
        sigma_eff = float(quals[SIGMA_EFF_QUALIFIER])
        cl = float(str(quals["CL"]).rstrip("%")) / 100.0
        obs, _ = record_table(record, f"Profile likelihood observed {mode}")
        asi, _ = record_table(record, f"Profile likelihood Asimov {mode}")
        fits, _ = record_table(record, f"Long-lived ratio fit {mode}")
        out[mode] = ModeLikelihood(points, _curves(obs, points, "obs"),
                                   _curves(asi, points, "asimov"),
                                   fits.assign(fit_ok=True))  # fmt: skip
    gaw, _ = record_table(record, "g_aW limits")
    return Likelihood(out, sigma_eff, cl, gaw)


# ---------------------------------------------------------------------------------------
# The recast
# ---------------------------------------------------------------------------------------
def _limit_at(lik: Likelihood, model: ModuleType, m_a: float, scan) -> dict:
    obs, asi, fns, biases = [], [], [], []
    for mode, ml in lik.modes.items():
        pts = ml.points
        i = int(np.argmin(np.abs(pts["m_a"].to_numpy() - m_a)))
        if abs(float(pts["m_a"].iloc[i]) - m_a) > float(pts["sigma_r"].iloc[i]):
            continue
        k = float(pts["k_events_per_br"].iloc[i])
        ratio = longlived_ratio_function(m_a, ml.longlived_fits)

        def yields(poi, k=k, ratio=ratio, mode=mode):
            poi = np.asarray(poi, dtype=float)
            br, ctau = _predict(model, mode, m_a, poi, scan)
            return k * br * ratio(ctau)

        obs.append(ml.observed[i])
        asi.append(ml.asimov[i])
        fns.append(yields)
        biases.append(float(pts["bias_events"].iloc[i]))
    if not obs:
        return {c: np.nan for c in RESULT_COLUMNS} | {"n_modes": 0}
    ref = float(model.POI["reference"])
    s_ref = sum(float(f(np.array(ref))) for f in fns)
    if not s_ref > 0:
        return {c: np.nan for c in RESULT_COLUMNS} | {"n_modes": len(obs)}
    guess = ref * np.sqrt(3.0 / s_ref)
    res = combined_limits(obs, asi, fns, bias_events=biases, sigma_eff=lik.sigma_eff, cl=lik.cl,
                          poi_guess=guess)  # fmt: skip
    return res.as_dict("poi_ul") | {"n_modes": len(obs)}


def recast(lik: Likelihood, model: ModuleType, masses=None) -> pd.DataFrame:
    """90 % CL (the record's CL) limits on the model's POI versus m_a (and its SCAN values).

    Parameters
    ----------
    lik : Likelihood
        From :func:`load_likelihood`.
    model : module
        From :func:`load_model`.
    masses : array_like, optional
        ALP masses (GeV); default: those of the record's g_aW table.

    Returns
    -------
    pandas.DataFrame
        ``m_a``, ``scan`` (if the model has one), :data:`RESULT_COLUMNS` (POI units) and
        ``n_modes`` (modes with a scan point within σ_R).  The region above ``poi_ul_obs``
        is excluded.
    """
    m = lik.gaw["m_a"].to_numpy(float) if masses is None else np.asarray(masses, dtype=float)
    rows = []
    for scan in _scan_values(model):
        for m_a in m:
            row = {"m_a": float(m_a)} | ({} if scan is None else {"scan": scan})
            rows.append(row | _limit_at(lik, model, float(m_a), scan))
    return pd.DataFrame(rows)
