"""Signal-model stage (spec §7): the prompt grid table, the long-lived efficiency tables and
the peaking-background shapes the scan uses.

Design notes: docs/scan.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alpscan.fitting.scan import fit_point
from alpscan.fitting.signal_model import fit_longlived_ratio, fit_signal_grid, interpolate_signal_model


def signal_grid_table(selected: pd.DataFrame, meta: dict, subdecay_factor: float) -> pd.DataFrame:
    """DSCB fit per grid mass of a selected ``signal_prompt`` sample."""
    comps = meta["components"]
    comp = selected["component"].to_numpy() if len(selected) else np.zeros(0, int)
    m_gg = selected["m_gg"].to_numpy() if len(selected) else np.zeros(0)
    by_mass = {float(c["m_a"]): m_gg[comp == k] for k, c in enumerate(comps)}
    n_gen = {float(c["m_a"]): int(c["n_generated"]) for c in comps}
    return fit_signal_grid(by_mass, n_gen, subdecay_factor)


def longlived_tables(table: pd.DataFrame, selected: pd.DataFrame, meta: dict, subdecay_factor: float,
                     window_width_factor: float = 9.0):
    """(ratio per (m_a, cτ) point, fitted ratio parameters per m_a)."""
    model = interpolate_signal_model(table)
    rows = []
    comp = selected["component"].to_numpy() if len(selected) else np.zeros(0, int)
    for k, c in enumerate(meta["components"]):  # one fit per (m_a, cτ) point, not per event
        m = selected["m_gg"].to_numpy()[comp == k] if len(selected) else np.zeros(0)
        res = fit_point(m, None, float(c["m_a"]), model, None, window_width_factor)
        eff_ll = res["n_sig"] / c["n_generated"] * subdecay_factor
        err_ll = res["n_sig_err"] / c["n_generated"] * subdecay_factor
        rows.append({"m_a": float(c["m_a"]), "ctau_mm": float(c["ctau_mm"]), "n_generated": int(c["n_generated"]),
                     "n_selected": int(m.size), "n_fit": res["n_sig"], "efficiency_ll": eff_ll,
                     "efficiency_prompt": res["efficiency"], "ratio": eff_ll / res["efficiency"],
                     "ratio_err": err_ll / res["efficiency"], "fit_ok": bool(res["fit_ok_free"])})
    points = pd.DataFrame(rows)
    fits = []
    for m_a, grp in points.groupby("m_a"):
        ok = grp["fit_ok"] & np.isfinite(grp["ratio"]) & (grp["ratio_err"] > 0)
        if ok.sum() >= 3:
            par, cov, fit_ok = fit_longlived_ratio(grp["ctau_mm"][ok], grp["ratio"][ok], grp["ratio_err"][ok])
        else:
            par, cov, fit_ok = np.full(3, np.nan), np.full((3, 3), np.nan), False
        fits.append({"m_a": m_a, "c0_mm": par[0], "p": par[1], "q": par[2], "fit_ok": bool(fit_ok),
                     "n_points": int(ok.sum())})
    return points, pd.DataFrame(fits)


def peaking_shapes(frames: dict, constraint_rel: dict, min_events: int = 30) -> dict:
    """DSCB shape and expected yield of each selected peaking sample (π⁰, η, η′, η_c).

    ``frames`` maps a name to its selected simulation; the expected data yield is
    Σ ``weight_fit``.  Components whose shape fit fails or that have fewer than
    ``min_events`` selected simulated events are reported with ``usable = False`` and
    left out of the scan fits (never used silently).  ``constraint_rel`` gives the
    relative Gaussian-constraint width of a component's yield (η_c: its world-average
    branching-fraction uncertainty); others float freely.
    """
    from alpscan.fitting.dscb import fit_dscb

    out = {}
    for name, frame in frames.items():
        m = frame["m_gg"].to_numpy()
        entry = {"n_simulated": int(m.size), "expected": float(frame["weight_fit"].sum()), "usable": False}
        if m.size >= min_events:
            med = float(np.median(m))
            width = 1.4826 * float(np.median(np.abs(m - med)))
            fit = fit_dscb(m, lo=med - 10 * width, hi=med + 10 * width)
            entry["shape"] = {k: float(v) for k, v in fit.values.items()}
            entry["usable"] = bool(fit.valid)
        rel = constraint_rel.get(name)
        entry["constraint_sigma"] = None if rel is None else float(rel * entry["expected"])
        out[name] = entry
    return out


def peaking_spec(shapes: dict) -> dict:
    """The ``peaking_shapes`` argument of :func:`alpscan.fitting.scan.fit_point`."""
    from alpscan.fitting.dscb import DSCBParams

    return {
        name: (DSCBParams(**e["shape"]), e["expected"], e["constraint_sigma"])
        for name, e in shapes.items()
        if e["usable"]
    }
