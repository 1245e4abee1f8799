"""``results/summary.json``: the headline numbers of a run (spec §11).

:func:`build_summary` assembles the summary from the stage outputs (already loaded
tables and dicts), :func:`validate_summary` checks it against the JSON schema kept in
the repository (``workflow/schemas/summary.schema.json``).  Non-finite numbers are
written as ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["build_summary", "validate_summary", "limit_summary", "clean_json", "failed_fits",
           "n_failed_fits", "point_methods"]


def clean_json(obj):
    """Recursively convert numpy scalars to Python and non-finite floats to ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def failed_fits(table: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of a fit table whose ``fit_ok`` is False or missing.

    The one definition of a failed fit behind every count of them: ``n_failed_fits`` of
    ``results/scan/significance.json`` (hence ``summary.json``), the toy counts of the
    summary and the "failed fits" legend of Fig. 3 (:func:`alpscan.plotting.paper.plot_scan`).

    Raises
    ------
    ValueError
        If ``table`` has no ``fit_ok`` column.
    """
    if "fit_ok" not in table.columns:
        raise ValueError(f"fit table has no 'fit_ok' column; has {list(table.columns)}")
    ok = table["fit_ok"]
    return ~np.array([bool(v) if pd.notna(v) else False for v in ok], dtype=bool)


def n_failed_fits(table: pd.DataFrame) -> int:
    """Number of failed fits of a fit table (:func:`failed_fits`)."""
    return int(np.sum(failed_fits(table)))


def _finite(s: pd.Series) -> pd.Series:
    s = pd.to_numeric(s, errors="coerce")
    return s[np.isfinite(s)]


def limit_summary(table: pd.DataFrame, prefix: str) -> dict:
    """Range of the observed and median expected limits of a limit table.

    ``prefix`` is ``br_ul`` (scan tables) or ``gaw_ul`` (g_aW table).
    """
    obs = _finite(table[f"{prefix}_obs"])
    exp = _finite(table[f"{prefix}_exp"])
    valid = table.loc[obs.index]
    above = _finite(table.loc[table["m_a"] > 2.0, f"{prefix}_obs"])
    m = valid["m_a"]
    return {
        "n_points": int(len(table)),
        "n_valid": int(len(obs)),
        "m_a_range_gev": [m.min() if len(m) else None, m.max() if len(m) else None],
        "obs_min": obs.min() if len(obs) else None,
        "obs_max": obs.max() if len(obs) else None,
        "exp_median_min": exp.min() if len(exp) else None,
        "exp_median_max": exp.max() if len(exp) else None,
        "obs_above_2gev_max": above.max() if len(above) else None,
    }


def point_methods(table: pd.DataFrame) -> dict:
    """Per-point limit bookkeeping of a §11 scan table: points with finite observed and
    expected limits, points per CLs method, points without limits counted by cause, and
    the fallbacks used (``limit_status`` other than ``ok``)."""
    ok = table["fit_ok"].astype(bool) if "fit_ok" in table.columns else pd.Series(False, table.index)
    status = table["limit_status"] if "limit_status" in table.columns else pd.Series("", table.index)
    method = table["cls_method"] if "cls_method" in table.columns else pd.Series("none", table.index)

    def counts(s: pd.Series) -> dict:
        return {str(k): int(v) for k, v in s.value_counts().sort_index().items()}

    return {
        "n_points": int(len(table)),
        "n_with_limits": int(ok.sum()),
        "cls_method": counts(method[ok]),
        "failures_by_cause": counts(status[~ok]),
        "fallbacks": counts(status[ok & (status != "ok")]),
    }


def _calibration(closure: pd.DataFrame) -> dict:
    means = closure.groupby(["mode", "comparison"])["chi2_ndf"].mean()
    names = {
        "offres_sim_vs_data_before": "offres_chi2_ndf_before",
        "offres_sim_vs_data_after": "offres_chi2_ndf_after",
        "onres_continuum_sim_vs_true_tune_before": "onres_true_tune_chi2_ndf_before",
        "onres_continuum_sim_vs_true_tune_after": "onres_true_tune_chi2_ndf_after",
    }
    out: dict = {}
    for (mode, comparison), value in means.items():
        if comparison in names:
            out.setdefault(mode, {})[names[comparison]] = float(value)
    return out


def _largest_excess(scan_modes: Mapping) -> dict:
    best = {"mode": None, "m_a_gev": None, "local_significance": None}
    for mode, entry in scan_modes.items():
        z = entry.get("max_local_significance")
        if z is not None and (best["local_significance"] is None or z > best["local_significance"]):
            best = {"mode": mode, "m_a_gev": entry["m_a_at_max_gev"], "local_significance": z}
    return best


def build_summary(
    *,
    run: Mapping,
    significance: Mapping,
    scans: Mapping[str, pd.DataFrame],
    toys: Mapping[str, pd.DataFrame],
    gaw: pd.DataFrame,
    closure: pd.DataFrame,
    control: Mapping,
    toy_cls: pd.DataFrame | None = None,
) -> dict:
    """Assemble ``results/summary.json``.

    Parameters
    ----------
    run : mapping
        ``seed``, ``modes``, ``luminosity_on_fb``, ``luminosity_off_fb``, ``n_bb_pairs``,
        ``n_toys_per_point``, ``cl``.
    significance : mapping
        ``results/scan/significance.json`` (per-mode maxima and the Gross–Vitells
        global significance).
    scans : mapping mode → DataFrame
        ``results/scan/{mode}.parquet`` (output contract, limits on B).
    toys : mapping mode → DataFrame
        The toy tables (bias per point in units of σ_Sig, pull widths).
    gaw : DataFrame
        ``results/limits/gaw.parquet``.
    closure : DataFrame
        ``results/calibration/closure.parquet``.
    control : mapping
        ``results/control/eta.json``.
    toy_cls : DataFrame, optional
        ``results/limits/toy_cls.parquet`` (toy-based CLs at chosen masses); one record
        per row under ``limits.toy_cls``.

    Returns
    -------
    dict
        JSON-ready summary (validated by :func:`validate_summary`).
    """
    try:
        pkg_version = version("alpscan")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        pkg_version = "unknown"
    all_bias = pd.concat([_finite(t["bias"]) for t in toys.values()]) if toys else pd.Series([])
    toy_modes = {
        mode: {
            "mean_bias": _finite(t["bias"]).mean(),
            "mean_pull_width": _finite(t["pull_width"]).mean(),
            "n_points": int(len(t)),
            "n_failed": n_failed_fits(t),
        }
        for mode, t in toys.items()
    }
    summary = {
        "run": {"alpscan_version": pkg_version, **run},
        "scan": {
            "modes": significance["modes"],
            "largest_local_excess": _largest_excess(significance["modes"]),
            "global": significance["global"],
        },
        "toys": {
            "n_toys_per_point": int(run["n_toys_per_point"]),
            "mean_bias": all_bias.mean() if len(all_bias) else None,
            "bias_range": [all_bias.min(), all_bias.max()] if len(all_bias) else [None, None],
            "modes": toy_modes,
        },
        "limits": {
            "branching_fraction": {mode: limit_summary(t, "br_ul") for mode, t in scans.items()},
            "gaw": limit_summary(gaw, "gaw_ul"),
            "points": {mode: point_methods(t) for mode, t in scans.items()},
            **({} if toy_cls is None else {"toy_cls": toy_cls.to_dict(orient="records")}),
        },
        "calibration": _calibration(closure),
        "control_modes": dict(control),
    }
    return clean_json(summary)


def validate_summary(summary: Mapping, schema_path: str | Path) -> None:
    """Validate a summary against the JSON schema at ``schema_path``.

    Raises
    ------
    ValueError
        Naming the offending key path and the schema's complaint.
    """
    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(summary), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.path) or "<top level>"
        raise ValueError(f"summary.json key '{where}': {e.message} (schema {schema_path})")
