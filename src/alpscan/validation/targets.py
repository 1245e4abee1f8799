"""Fidelity targets: the paper's published performance, each with its tolerance and a
pass/fail verdict for the toy (issue 13; README "Fidelity").

Three kinds of target:

* relative: ``|value / paper − 1| ≤ tolerance`` (σ_R after the kinematic fit, 15 %);
* absolute: ``|value − paper| ≤ tolerance`` (single-cut efficiency and rejection of
  each classifier, averaged over modes: 10 points);
* range: ``lo / widen ≤ value ≤ hi × widen`` (median final signal efficiency of each
  mode; the paper's range widened by 25 %).
"""

from __future__ import annotations

import math

#: single-cut performance of each classifier, averaged over modes [P] (the paper's text)
PAPER_SINGLE_CUT = {
    "cs1": {"signal_efficiency": 0.667, "background_rejection": 0.954},
    "cs2": {"signal_efficiency": 0.875, "background_rejection": 0.311},
    "pi0_veto": {"signal_efficiency": 0.961, "background_rejection": 0.278},
    "eta_veto": {"signal_efficiency": 0.990, "background_rejection": 0.111},
    "xsgamma": {"signal_efficiency": 0.766, "background_rejection": 0.530},
}
#: absolute tolerance of the single-cut performance (fraction)
SINGLE_CUT_TOLERANCE = 0.10
#: range of the final signal efficiency over the mass range of each mode [P] (the
#: paper's efficiency figure; K*⁺ "about 2 %")
PAPER_FINAL_EFFICIENCY = {"Kp": (0.08, 0.16), "K0S": (0.06, 0.11), "Kst0": (0.03, 0.08), "Kstp": (0.02, 0.02)}
#: factor by which each final-efficiency range is widened on both sides
FINAL_EFFICIENCY_WIDEN = 1.25
#: relative tolerance of σ_R after the kinematic fit
SIGMA_R_TOLERANCE = 0.15


def target_status(value: float, paper: float, tolerance: float, relative: bool) -> dict:
    """Verdict of one point target: value, paper, tolerance, difference and pass."""
    value, paper = float(value), float(paper)
    if relative:
        if paper == 0:
            raise ValueError("a relative target needs a non-zero paper value")
        diff = value / paper - 1.0
    else:
        diff = value - paper
    ok = math.isfinite(diff) and abs(diff) <= tolerance + 1e-12
    return {"value": value, "paper": paper, "tolerance": float(tolerance), "relative": bool(relative),
            "difference": diff, "pass": bool(ok)}


def range_status(value: float, lo: float, hi: float, widen: float) -> dict:
    """Verdict of a range target: pass when ``lo / widen ≤ value ≤ hi × widen``."""
    if lo > hi or widen < 1:
        raise ValueError(f"bad range target [{lo}, {hi}] widened by {widen}")
    value = float(value)
    lo_w, hi_w = lo / widen, hi * widen
    return {"value": value, "paper": [float(lo), float(hi)], "accepted": [lo_w, hi_w], "widen": float(widen),
            "pass": bool(math.isfinite(value) and lo_w <= value <= hi_w)}


def sigma_r_targets(fidelity: dict, mode: str = "Kp") -> list[dict]:
    """σ_R targets of ``mode`` from a fidelity report (``fidelity.json``)."""
    out = []
    for e in fidelity["sigma_r"].get(mode, []):
        if e.get("available"):
            out.append({"name": f"sigma_R {mode} {e['m_target_gev']:g} GeV", "unit": "MeV", "group": "sigma_R",
                        **target_status(e["sigma_r_mev"], e["paper_sigma_r_mev"], SIGMA_R_TOLERANCE, True)})
    return out


def median_final_efficiency(performance: dict, mode: str) -> float:
    """Median over the mass grid of the final signal efficiency of ``mode``."""
    eff = sorted(performance["modes"][mode]["final_efficiency"]["efficiency"])
    if not eff:
        return float("nan")
    n = len(eff)
    return 0.5 * (eff[(n - 1) // 2] + eff[n // 2])


def performance_targets(performance: dict) -> list[dict]:
    """Final-efficiency and single-cut targets from a performance report."""
    out = []
    for mode in performance["modes"]:
        if mode in PAPER_FINAL_EFFICIENCY:
            lo, hi = PAPER_FINAL_EFFICIENCY[mode]
            out.append({"name": f"final efficiency {mode} (median)", "unit": "", "group": "final efficiency",
                        **range_status(median_final_efficiency(performance, mode), lo, hi, FINAL_EFFICIENCY_WIDEN)})
    for name, paper in PAPER_SINGLE_CUT.items():
        avg = performance["average"].get(name)
        if avg is None:
            continue
        for key, label in (("signal_efficiency", "efficiency"), ("background_rejection", "rejection")):
            out.append({"name": f"{name} {label}", "unit": "", "group": "single cut",
                        **target_status(avg[key], paper[key], SINGLE_CUT_TOLERANCE, False)})
    return out


def target_summary(targets: list[dict]) -> dict:
    """Counts of passing and failing targets."""
    n_pass = sum(t["pass"] for t in targets)
    return {"n_targets": len(targets), "n_pass": n_pass, "n_fail": len(targets) - n_pass,
            "failing": [t["name"] for t in targets if not t["pass"]]}
