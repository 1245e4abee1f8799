"""Stage functions of the toy, limit and control-mode rules (spec §7–9, §11): pure
functions on arrays and tables that the rule scripts call.

Design notes: docs/limits.md.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from alpscan.fitting.scan import PeakingSpec, point_window
from alpscan.fitting.signal_model import SignalModel, longlived_ratio
from alpscan.fitting.toys import asimov_data, generation_theta, toy_study
from alpscan.physics.alp import br_b_to_k_a, ctau_a_mm
from alpscan.stats.limits import (
    FIT_MAX_ITER,
    ProfileCurve,
    combined_limits,
    null_fit,
    profile_curve_status,
    profile_grid,
    single_fit,
    yield_limits,
)

__all__ = [
    "CHARGED_MODES",
    "point_seed",
    "b_fraction",
    "n_bb_pairs",
    "toy_table",
    "profile_grid",
    "limits_table",
    "limit_failures",
    "wants_toys",
    "SCAN_COLUMNS",
    "GAW_COLUMNS",
    "toy_cls_points",
    "gaw_table",
    "control_mode",
]

#: Modes with a charged B (f₊₋); the others use f₀₀.
CHARGED_MODES = ("Kp", "Kstp")

#: Columns of ``results/scan/{mode}.parquet`` fixed by the output contract (spec §11).
SCAN_COLUMNS = (
    "m_a", "sigma_l", "sigma_r", "efficiency", "n_sig", "n_sig_err", "significance", "bias",
    "n_sig_corrected", "br_ul_obs", "br_ul_exp", "br_ul_exp_m2", "br_ul_exp_m1",
    "br_ul_exp_p1", "br_ul_exp_p2", "fit_ok",
)  # fmt: skip

#: Columns of ``results/limits/gaw.parquet`` (spec §11), g_aW in GeV⁻¹.
GAW_COLUMNS = (
    "m_a", "gaw_ul_obs", "gaw_ul_exp", "gaw_ul_exp_m2", "gaw_ul_exp_m1", "gaw_ul_exp_p1",
    "gaw_ul_exp_p2",
)  # fmt: skip


def point_seed(seed: int, mode: str, m_a: float) -> np.random.SeedSequence:
    """Seed of the toys of one scan point: independent of chunking (m_a in keV as id)."""
    return np.random.SeedSequence([int(seed), zlib.crc32(f"toys/{mode}".encode()),
                                   int(round(float(m_a) * 1e6))])  # fmt: skip


def b_fraction(mode: str, physics: Mapping) -> float:
    """f₊₋ for B⁺ modes, f₀₀ for B⁰ modes."""
    return float(physics["f_charged"] if mode in CHARGED_MODES else physics["f_neutral"])


def n_bb_pairs(physics: Mapping, lumi_on_fb: float) -> float:
    """N_BB̄ for an on-resonance luminosity (fb⁻¹), scaled from the paper's 772 × 10⁶."""
    return float(physics["n_bb_pairs_ref"]) * float(lumi_on_fb) / float(physics["lumi_ref_fb"])


def _windows(points, model: SignalModel, peaking: PeakingSpec | None, width: float):
    for m_a in np.atleast_1d(np.asarray(points, dtype=float)):
        yield float(m_a), point_window(float(m_a), model, peaking, width)


def _in(m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return m[(m >= lo) & (m <= hi)]


# ---------------------------------------------------------------------------------------
# Toys
# ---------------------------------------------------------------------------------------
def toy_table(
    m_data, points, model: SignalModel, peaking: PeakingSpec | None, *,
    window_width_factor: float, n_toys: int, seed: int, mode: str,
    progress: bool | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Toy-MC bias study of each scan point (spec §8).

    ``progress`` shows a tqdm bar over the points (default: only when stderr is a
    terminal, so logs of batch and cluster jobs stay clean).

    The data in the window are fitted with the batched fitter; ``n_toys`` pseudo-data
    sets are drawn from the fitted pdf with a non-negative signal yield (Poisson-fluctuated
    total yield; where the free fit's yield is negative, the fit with ``n_sig = 0``, see
    :func:`alpscan.fitting.toys.generation_theta`) and refitted.
    ``bias`` = mean(N_fit − N_gen)/σ_Sig with σ_Sig the spread of the toy fits (see
    :func:`alpscan.fitting.toys.toy_study`); a point whose data fit did not converge gets
    ``fit_ok = False`` and NaN bias (never used: its limits are NaN too).

    Returns
    -------
    pandas.DataFrame
        ``m_a``, ``n_gen``, ``bias``, ``sigma_sig``, ``pull_mean``, ``pull_width``,
        ``n_toys``, ``n_toys_ok``, ``fit_ok``, ``n_fit_data`` (the free fit's yield) and
        ``gen_clipped`` (toys generated at ``n_sig = 0`` because it was negative).
    """
    m = np.asarray(m_data, dtype=float)
    m = m[np.isfinite(m)]
    rows = []
    if progress is None:
        progress = sys.stderr.isatty()
    windows = _windows(points, model, peaking, window_width_factor)
    bar = tqdm(windows, total=np.size(points), desc=f"toys {mode}", disable=not progress, leave=False)
    for m_pt, wm in bar:
        gen = generation_theta(wm, _in(m, wm.lo, wm.hi), max_iter=FIT_MAX_ITER)
        row = {"m_a": m_pt, "n_toys": int(n_toys), "n_fit_data": gen.n_fit_data,
               "gen_clipped": gen.clipped}  # fmt: skip
        if gen.theta is None:
            rows.append({**row, "n_gen": np.nan, "bias": np.nan, "sigma_sig": np.nan,
                         "pull_mean": np.nan, "pull_width": np.nan, "n_toys_ok": 0,
                         "fit_ok": False})  # fmt: skip
            continue
        rng = np.random.default_rng(point_seed(seed, mode, m_pt))
        study = toy_study(rng, wm, gen.theta, int(n_toys))
        rows.append({
            **row, "n_gen": float(study.n_gen), "bias": float(study.bias),
            "sigma_sig": float(study.sigma_sig), "pull_mean": float(study.pull_mean),
            "pull_width": float(study.pull_width), "n_toys_ok": int(study.n_ok),
            "fit_ok": True,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["m_a", "n_toys", "n_gen", "bias", "sigma_sig", "pull_mean",
                                       "pull_width", "n_toys_ok", "fit_ok", "n_fit_data",
                                       "gen_clipped"])  # fmt: skip


# ---------------------------------------------------------------------------------------
# Limits per mode
# ---------------------------------------------------------------------------------------
#: Causes of a point without a finite limit (``limit_status`` of the §11 table and
#: ``limit_failures`` of ``summary.json``), besides the profile failures of
#: :class:`~alpscan.stats.limits.CurveStatus`.
ZERO_EFFICIENCY = "zero efficiency"


def _asymptotic_point(wm, x, *, bias_events, sigma_eff, cl, n_profile_points):
    """Asymptotic limits (events) of one window, its curves and a status string.

    Returns ``(LimitResult or None, observed curve, Asimov curve, status)``; status is
    ``"ok"``, a fallback note (``free fit from profile``, ``n profile points dropped``,
    ``null fit from free start``) or the cause of the failure.
    """
    notes = []
    obs, st_obs = profile_curve_status(wm, x, None, n_profile_points)
    if obs is None:
        return None, None, None, f"observed {st_obs.cause}"
    if st_obs.free_fit != "ok":
        notes.append("free fit from profile")
    free = single_fit(wm, x)
    null = null_fit(wm, x, free=free)
    if not bool(null.converged[0]):
        return None, obs, None, "null fit failed"
    try:
        xa, wa = asimov_data(wm, null.theta[0])
    except ValueError:
        return None, obs, None, "Asimov density negative"
    asi, st_asi = profile_curve_status(wm, xa, wa, n_profile_points)
    if asi is None:
        return None, obs, None, f"Asimov {st_asi.cause}"
    n_drop = st_obs.n_dropped + st_asi.n_dropped
    if n_drop:
        notes.append(f"{n_drop} profile points dropped")
    bias = bias_events if np.isfinite(bias_events) else 0.0
    if not np.isfinite(bias_events):
        notes.append("no toy bias")
    res = yield_limits(obs, asi, bias_events=bias, sigma_eff=sigma_eff, cl=cl)
    if not _finite(res):
        return None, obs, asi, "asymptotic CLs did not cross"
    return res, obs, asi, "; ".join(notes) or "ok"


def _finite(res) -> bool:
    return res is not None and bool(np.all(np.isfinite([res.observed, *res.expected])))


def _toy_point(wm, x, asym, *, hybrid, sigma_eff, cl, seed, mode, m_pt):
    """Toy-based limits (events) of one window; the grid spans the asymptotic limits."""
    from alpscan.stats.toy_cls import fallback_guess, toy_limits

    if _finite(asym):
        lo = 0.5 * min(asym.observed, asym.expected[0])
        hi = 2.0 * max(asym.observed, asym.expected[-1]) + 1.0
    else:
        hi = 2.0 * fallback_guess(wm, wm.select(x)[0])
        lo = 0.2 * hi
    lo = max(lo, 0.05)
    rng = point_seed(seed + 2, mode, m_pt)
    return toy_limits(wm, x, s_range=(lo, max(hi, 2.0 * lo)), cl=cl, sigma_eff=sigma_eff,
                      n_toys=int(hybrid["n_toys"]), rng=rng, n_points=int(hybrid["n_points"]))


def wants_toys(n_events: int, m_a: float, sigma_r: float, hybrid: Mapping | None) -> bool:
    """Whether a point gets toy-based CLs: fewer than ``hybrid["max_events"]`` events in
    its window, or a mass of ``hybrid["masses_gev"]`` within σ_R of it."""
    if not hybrid:
        return False
    if n_events < int(hybrid["max_events"]):
        return True
    named = np.asarray(hybrid.get("masses_gev", []), dtype=float)
    return bool(named.size and np.any(np.abs(named - m_a) <= 0.5 * sigma_r))


def limits_table(
    m_data, fits: pd.DataFrame, toys: pd.DataFrame, model: SignalModel,
    peaking: PeakingSpec | None, *, mode: str, window_width_factor: float, n_bb: float,
    f_b: float, sigma_eff: float, cl: float, n_profile_points: int,
    hybrid: Mapping | None = None, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """CLs limits of every scan point of one mode, and the profile curves behind them.

    Parameters
    ----------
    m_data : array_like
        Selected pseudo-data M_γγ (GeV).
    fits : pandas.DataFrame
        Scan fits (``results/scan/{mode}_fit.parquet``): m_a, n_sig, n_sig_err,
        significance, efficiency, fit_ok, ...
    toys : pandas.DataFrame
        :func:`toy_table` of the same points.
    model, peaking, window_width_factor
        As for the scan fits.
    n_bb, f_b : float
        N_BB̄ and f₊₋ or f₀₀.
    sigma_eff, cl : float
        Relative efficiency uncertainty (0.223) and confidence level (0.9).
    n_profile_points : int
        Grid points of each profile curve.
    hybrid : mapping or None
        Toy-based CLs (``limits.hybrid`` of the config): ``max_events`` (points whose
        window holds fewer events get toys), ``masses_gev`` (points within σ_R/2 of these
        masses too), ``n_toys``, ``n_points``.  None: asymptotic everywhere.
    seed : int
        Master seed (the toys of a point are seeded by (seed, mode, m_a)).

    Returns
    -------
    scan : pandas.DataFrame
        The output-contract table (:data:`SCAN_COLUMNS`, then diagnostics): ``bias`` in
        units of σ_Sig, ``n_sig_corrected = n_sig − bias·σ_Sig``, limits on
        B(B → K(*)a)·B(a → γγ) (the K⁰ mode: B(B⁰ → K⁰a), sub-decays in ε).
        The limits come from fits of their own (batched fitter, with fallbacks, see
        :func:`alpscan.stats.limits.profile_curve_status`), so a failed scan fit
        (``scan_fit_ok``) does not cost the limit.  ``cls_method`` is ``asymptotic`` or
        ``toys`` (observed and expected from the same method); a point whose asymptotic
        limits fail gets toys as well.  ``fit_ok`` is True where every limit is finite,
        ``limit_status`` says ``ok``, which fallback was used, or why a limit is missing.
    profiles : pandas.DataFrame
        Per point: ``m_a``, ``efficiency``, ``k_events_per_br`` (2 N_BB̄ f ε),
        ``bias_events``, the observed and Asimov curves (``*_grid``, ``*_nll`` lists,
        ``*_n_hat``, ``*_nll_hat``) and ``ok``; input of the g_aW combination.
    """
    m = np.asarray(m_data, dtype=float)
    m = m[np.isfinite(m)]
    fits = fits.set_index(np.round(fits["m_a"].to_numpy(), 9))
    toys = toys.set_index(np.round(toys["m_a"].to_numpy(), 9))
    rows, prof = [], []
    nan = float("nan")
    for m_pt, wm in _windows(fits["m_a"].to_numpy(), model, peaking, window_width_factor):
        key = round(m_pt, 9)
        fit, toy = fits.loc[key], toys.loc[key]
        eff = float(fit["efficiency"])
        k = 2.0 * n_bb * f_b * eff
        bias = float(toy["bias"]) if bool(toy["fit_ok"]) else nan
        bias_events = bias * float(toy["sigma_sig"]) if np.isfinite(bias) else nan
        x = _in(m, wm.lo, wm.hi)
        asym, obs, asi, status = _asymptotic_point(
            wm, x, bias_events=bias_events, sigma_eff=sigma_eff, cl=cl,
            n_profile_points=n_profile_points,
        )  # fmt: skip
        res, method = asym, "asymptotic"
        if wants_toys(x.size, m_pt, float(fit["sigma_r"]), hybrid) or (hybrid and asym is None):
            try:
                res = _toy_point(wm, x, asym, hybrid=hybrid, sigma_eff=sigma_eff, cl=cl,
                                 seed=seed, mode=mode, m_pt=m_pt).result  # fmt: skip
                method = "toys"
                if asym is None:
                    status = f"toys after asymptotic failure ({status})"
            except RuntimeError as err:
                status = f"{status}; toys failed: {err}" if asym is None else f"toys failed: {err}"
                res = asym
        if not (k > 0):
            status, res = ZERO_EFFICIENCY, None
        ok = _finite(res)
        lim = res.scaled(1.0 / k).as_dict("br_ul") if ok else {}
        n_sig = float(fit["n_sig"])
        rows.append({
            "m_a": m_pt, "sigma_l": float(fit["sigma_l"]), "sigma_r": float(fit["sigma_r"]),
            "efficiency": eff, "n_sig": n_sig, "n_sig_err": float(fit["n_sig_err"]),
            "significance": float(fit["significance"]), "bias": bias,
            "n_sig_corrected": n_sig - bias_events if np.isfinite(bias_events) else nan,
            **{c: lim.get(c, nan) for c in SCAN_COLUMNS if c.startswith("br_ul")},
            "fit_ok": ok, "cls_method": method if ok else "none", "limit_status": status,
            "scan_fit_ok": bool(fit["fit_ok"]), "n_events": int(x.size), "window_lo": wm.lo,
            "window_hi": wm.hi,
        })  # fmt: skip
        prof_ok = obs is not None and asi is not None and k > 0
        prof.append({
            "m_a": m_pt, "efficiency": eff, "k_events_per_br": k,
            "bias_events": bias_events if np.isfinite(bias_events) else 0.0,
            "sigma_r": float(fit["sigma_r"]), "ok": prof_ok,
            **_curve_columns("obs", obs if prof_ok else None),
            **_curve_columns("asimov", asi if prof_ok else None),
        })  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(prof)


def limit_failures(scan: pd.DataFrame) -> dict[str, int]:
    """Points without finite limits counted by cause (``limit_status``) in a §11 table
    of :func:`limits_table` (empty when every point has its limits)."""
    bad = scan[~scan["fit_ok"].astype(bool)]
    return {str(k): int(v) for k, v in bad["limit_status"].value_counts().sort_index().items()}


def _curve_columns(prefix: str, c: ProfileCurve | None) -> dict:
    if c is None:
        return {f"{prefix}_grid": [], f"{prefix}_nll": [], f"{prefix}_n_hat": np.nan,
                f"{prefix}_nll_hat": np.nan}  # fmt: skip
    return {f"{prefix}_grid": c.n_sig.tolist(), f"{prefix}_nll": c.nll.tolist(),
            f"{prefix}_n_hat": c.n_hat, f"{prefix}_nll_hat": c.nll_hat}  # fmt: skip


def _curve_from_row(row, prefix: str) -> ProfileCurve:
    return ProfileCurve(np.asarray(row[f"{prefix}_grid"], dtype=float),
                        np.asarray(row[f"{prefix}_nll"], dtype=float),
                        float(row[f"{prefix}_n_hat"]), float(row[f"{prefix}_nll_hat"]))  # fmt: skip


# ---------------------------------------------------------------------------------------
# Toy-based CLs at chosen points
# ---------------------------------------------------------------------------------------
def toy_cls_points(
    m_data, scan: pd.DataFrame, model: SignalModel, peaking: PeakingSpec | None, *,
    mode: str, masses_gev: Sequence[float], window_width_factor: float, n_bb: float,
    f_b: float, sigma_eff: float, cl: float, n_toys: int, seed: int,
) -> pd.DataFrame:  # fmt: skip
    """Toy-based CLs limits at chosen masses, beside the asymptotic ones (spec §9).

    Each requested mass is snapped to the nearest valid scan point of ``scan`` (the
    §11 table of the mode).  The toy limit (:func:`alpscan.stats.toy_cls.toy_upper_limit`,
    q̃_μ by toys, efficiency systematic by the hybrid method, fit bias inside the toys)
    is converted to B with the same ``k = 2 N_BB̄ f ε`` as the asymptotic limit.

    Returns
    -------
    pandas.DataFrame
        ``mode``, ``m_a_requested``, ``m_a``, ``n_events``, ``ul_events_toys``,
        ``ul_events_toys_err``, ``br_ul_obs_toys``, ``br_ul_obs_asymptotic``,
        ``ratio_toys_to_asymptotic``, ``n_toys``, ``n_toy_datasets`` (s+b and b-only
        toys summed over the tested yields), ``n_failed_toys`` (of those, fits that failed
        and were excluded).
    """
    from alpscan.stats.toy_cls import toy_upper_limit

    m = np.asarray(m_data, dtype=float)
    m = m[np.isfinite(m)]
    good = scan[scan["fit_ok"].astype(bool)]
    rows = []
    for req in np.asarray(masses_gev, dtype=float):
        if good.empty:
            break
        row = good.iloc[int(np.argmin(np.abs(good["m_a"].to_numpy() - req)))]
        (m_pt, wm), = _windows([float(row["m_a"])], model, peaking, window_width_factor)
        x = _in(m, wm.lo, wm.hi)
        k = 2.0 * n_bb * f_b * float(row["efficiency"])
        rng = np.random.default_rng(point_seed(seed + 1, mode, m_pt))
        lim = toy_upper_limit(wm, x, cl=cl, sigma_eff=sigma_eff, n_toys=int(n_toys), rng=rng)
        br_asym = float(row["br_ul_obs"])
        rows.append({
            "mode": mode, "m_a_requested": float(req), "m_a": m_pt, "n_events": int(x.size),
            "ul_events_toys": lim.limit, "ul_events_toys_err": lim.limit_err,
            "br_ul_obs_toys": lim.limit / k, "br_ul_obs_asymptotic": br_asym,
            "ratio_toys_to_asymptotic": lim.limit / k / br_asym,
            "n_toys": int(n_toys), "n_toy_datasets": int(2 * n_toys * np.size(lim.scan.s_values)),
            "n_failed_toys": int(lim.n_failed_toys),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=TOY_CLS_COLUMNS)


TOY_CLS_COLUMNS = [
    "mode", "m_a_requested", "m_a", "n_events", "ul_events_toys", "ul_events_toys_err",
    "br_ul_obs_toys", "br_ul_obs_asymptotic", "ratio_toys_to_asymptotic", "n_toys",
    "n_toy_datasets", "n_failed_toys",
]  # fmt: skip


# ---------------------------------------------------------------------------------------
# g_aW
# ---------------------------------------------------------------------------------------
def longlived_ratio_function(m_a: float, ll_table: pd.DataFrame):
    """ε_LL/ε_prompt at mass ``m_a`` (GeV) as a function of cτ (mm).

    The fitted ratio curves r(cτ) of the long-lived masses (``fit_ok`` rows of
    ``results/signal_model/{mode}_longlived.parquet``) are interpolated linearly in m_a
    between the two masses around ``m_a`` (constant beyond the first and last one).
    The table is read once; the returned function is vectorised over cτ.
    """
    ok = ll_table[ll_table["fit_ok"].astype(bool)].sort_values("m_a")
    if ok.empty:
        raise ValueError("no valid long-lived efficiency fit for this mode")
    masses = ok["m_a"].to_numpy(dtype=float)
    params = ok[["c0_mm", "p", "q"]].to_numpy(dtype=float)
    if masses.size == 1:
        return lambda ctau_mm: longlived_ratio(ctau_mm, params[0])
    j = int(np.clip(np.searchsorted(masses, m_a) - 1, 0, masses.size - 2))
    t = float(np.clip((m_a - masses[j]) / (masses[j + 1] - masses[j]), 0.0, 1.0))
    lo, hi = params[j], params[j + 1]

    def ratio(ctau_mm):
        return (1.0 - t) * longlived_ratio(ctau_mm, lo) + t * longlived_ratio(ctau_mm, hi)

    return ratio


def gaw_table(
    profiles: Mapping[str, pd.DataFrame], longlived: Mapping[str, pd.DataFrame],
    masses: Sequence[float], *, n_bb: float, physics: Mapping, sigma_eff: float, cl: float,
) -> pd.DataFrame:  # fmt: skip
    """90 % CLs limit on g_aW (GeV⁻¹) versus m_a from the four modes combined.

    At each mass, every mode whose nearest scan point lies within its σ_R contributes
    the profile curves of that point; its expected yield at coupling g is
    ``2 N_BB̄ f B(m_a, g) ε r(cτ(m_a, g))`` (see :mod:`alpscan.stats.limits`), so the
    efficiency is evaluated at the decay length of the tested coupling
    (self-consistent).  Columns :data:`GAW_COLUMNS` plus ``n_modes``.
    """
    rows = []
    nan = float("nan")
    valid = {mode: t[t["ok"].astype(bool)] for mode, t in profiles.items()}
    for m_a in np.asarray(masses, dtype=float):
        obs, asi, fns, biases = [], [], [], []
        for mode, good in valid.items():
            if good.empty:
                continue
            i = int(np.argmin(np.abs(good["m_a"].to_numpy() - m_a)))
            row = good.iloc[i]
            if abs(float(row["m_a"]) - m_a) > float(row["sigma_r"]):
                continue
            c_mode = 2.0 * n_bb * b_fraction(mode, physics) * float(row["efficiency"])
            ratio = longlived_ratio_function(m_a, longlived[mode])

            def yields(g, m_a=m_a, c_mode=c_mode, ratio=ratio, mode=mode):
                g = np.asarray(g, dtype=float)
                br = br_b_to_k_a(m_a, g, mode)
                with np.errstate(divide="ignore"):
                    ctau = ctau_a_mm(m_a, np.where(g > 0, g, 1e-300))
                return c_mode * br * ratio(ctau)

            obs.append(_curve_from_row(row, "obs"))
            asi.append(_curve_from_row(row, "asimov"))
            fns.append(yields)
            biases.append(float(row["bias_events"]))
        if not obs:
            rows.append({"m_a": m_a, **{c: nan for c in GAW_COLUMNS[1:]}, "n_modes": 0})
            continue
        s_ref = sum(float(f(1e-5)) for f in fns)
        guess = 1e-5 * np.sqrt(3.0 / s_ref) if s_ref > 0 else 1e-3
        res = combined_limits(obs, asi, fns, bias_events=biases, sigma_eff=sigma_eff, cl=cl,
                              poi_guess=guess)  # fmt: skip
        rows.append({"m_a": m_a, **res.as_dict("gaw_ul"), "n_modes": len(obs)})
    return pd.DataFrame(rows, columns=[*GAW_COLUMNS, "n_modes"])


# ---------------------------------------------------------------------------------------
# Control modes
# ---------------------------------------------------------------------------------------
def control_mode(
    m_data, eta: Mapping, other_peaking: PeakingSpec | None, *, window: Sequence[float],
    br_input: float,
) -> dict:  # fmt: skip
    """B(B → K η) from the η peak of the pseudo-data (spec §7 control modes).

    The η yield is fitted with :func:`alpscan.fitting.scan.fit_control_eta` (the scan's
    fit with the η DSCB as "signal"); its total is ``n_eta / window_fraction``.  The
    selected simulation predicts ``expected`` events for the generator's input
    branching fraction ``br_input`` (same efficiency, B(η → γγ) and N_BB̄), so
    ``B = br_input · N_fit/N_expected``; ``pull = (B − br_input)/σ_B``.
    """
    from alpscan.fitting.dscb import DSCBParams
    from alpscan.fitting.scan import fit_control_eta

    res = fit_control_eta(m_data, None, DSCBParams(**eta["shape"]), tuple(window),
                          other_peaking)  # fmt: skip
    scale = float(br_input) / float(eta["expected"]) / float(res["window_fraction"])
    br, err = res["n_eta"] * scale, res["n_eta_err"] * scale
    return {
        "branching_fraction": float(br), "error": float(err), "input": float(br_input),
        "pull": float((br - br_input) / err) if err > 0 else float("nan"),
        "n_eta": float(res["n_eta"]), "n_eta_err": float(res["n_eta_err"]),
        "fit_ok": bool(res["fit_ok"]), "window_gev": [float(w) for w in window],
    }  # fmt: skip
