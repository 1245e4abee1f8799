"""Mass scan: scan points, per-point extended ML fits, chunking, control modes (spec §7).

* :func:`scan_points` places the ALP mass hypotheses: from 0.160 GeV upward in steps of
  the signal resolution σ_R(m), skipping the K_S and η′/φ veto windows, up to the end
  of the mode's range.
* :func:`fit_point` fits one hypothesis: an extended unbinned ML fit
  (:func:`alpscan.fitting.window_fit.fit_window`) of M_γγ in the window
  ``m_a ± 4.5·(σ_L + σ_R)`` (width 9·(σ_L + σ_R)) with the signal DSCB shape fixed from
  the :class:`~alpscan.fitting.signal_model.SignalModel`, a floating second-order
  polynomial and the peaking components that reach into the window, once with the signal
  yield free and once with it fixed to zero; ``S = sign(N_sig)·√(2(NLL₀ − NLL₁))``.
* :func:`fit_points` does that for a chunk of points (:func:`chunk_points`,
  :func:`chunk_of`) and returns a table.
* :func:`fit_control_eta` and :func:`branching_fraction` measure the B → K η control
  channels with the same fit, the η DSCB playing the role of the signal.

Masses are in GeV; yields are numbers of events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from alpscan.fitting.batched import BatchFit, fit_batch
from alpscan.fitting.dscb import DSCBParams, as_dscb_params, dscb_window_fraction
from alpscan.fitting.signal_model import SignalModel
from alpscan.fitting.window_fit import WindowFit, empty_window_fit, fit_window, significance_from_nll
from alpscan.fitting.window_model import SIGNAL, PeakingComponent, WindowModel, YieldConstraint

__all__ = [
    "DEFAULT_VETOES",
    "scan_points",
    "prepare_data",
    "select_peaking",
    "point_window",
    "FITTERS",
    "fit_point",
    "fit_points",
    "batched_free_and_null",
    "profile_interval",
    "chunk_points",
    "chunk_of",
    "read_chunks",
    "fit_control_eta",
    "branching_fraction",
]

#: Veto windows of the scan (GeV), open intervals around the K_S/η and the η′ masses
#: (spec §7).
DEFAULT_VETOES: tuple[tuple[float, float], ...] = ((0.497, 0.578), (0.938, 0.997))

#: Peaking specification: name -> (DSCB shape, expected total yield or None,
#: Gaussian constraint width on that yield or None).
PeakingSpec = Mapping[str, tuple[Any, float | None, float | None]]

#: The null fit may be below the free fit by this much (numerical tolerance, in -ln L)
#: before the free fit is redone from the null minimum.
_NLL_TOL = 1e-3
#: Scan fitters: ``"batched"`` (the compiled Newton fitter of
#: :mod:`alpscan.fitting.batched`, iminuit where it does not converge) or ``"iminuit"``.
FITTERS = ("batched", "iminuit")
#: Convergence goal of the batched scan fits, edm = ½gᵀH⁻¹g (-ln L): every parameter
#: within ~1e-5 of its error of the minimum, also at the positivity edge where Migrad's
#: default tolerance stops short (issue 19).
_BATCH_TOL = 1e-10


# ---------------------------------------------------------------------------------------
# Scan points
# ---------------------------------------------------------------------------------------
def scan_points(
    sigma_r_of_m: Callable[[float], float] | SignalModel,
    m_start: float = 0.160,
    m_stop: float = 4.50,
    vetoes: Sequence[tuple[float, float]] = DEFAULT_VETOES,
    max_points: int = 100_000,
) -> np.ndarray:
    """ALP mass hypotheses of the scan.

    Start at ``m_start`` and step by the right-side resolution, ``m_{i+1} = m_i +
    σ_R(m_i)``.  A point that falls inside a veto window (open interval ``lo < m < hi``)
    is not used; the scan jumps to the window's upper edge ``hi`` (which is a valid
    point) and continues from there.  Points above ``m_stop`` are not produced.

    The recursion is inherently sequential (each step depends on the previous point),
    so this is a plain Python loop over the (a few hundred) scan points; it does not
    touch any event.

    Parameters
    ----------
    sigma_r_of_m : callable or SignalModel
        σ_R(m) in GeV as a function of m (GeV); a :class:`SignalModel` uses its
        :meth:`~SignalModel.sigma_r`.
    m_start, m_stop : float, optional
        First point and upper end of the scan (GeV); the last point is ``<= m_stop``.
    vetoes : sequence of (float, float), optional
        Excluded mass windows ``(lo, hi)`` in GeV.
    max_points : int, optional
        Safety limit on the number of points.

    Returns
    -------
    numpy.ndarray
        Increasing scan masses (GeV).

    Raises
    ------
    ValueError
        If σ_R is not finite and positive at a point, ``m_stop < m_start``, or more than
        ``max_points`` points would be produced.
    """
    sig = sigma_r_of_m.sigma_r if isinstance(sigma_r_of_m, SignalModel) else sigma_r_of_m
    m_start, m_stop = float(m_start), float(m_stop)
    if not m_stop >= m_start:
        raise ValueError("m_stop must be >= m_start")
    vetoes = sorted((float(a), float(b)) for a, b in vetoes)
    points: list[float] = []
    m = m_start
    while m <= m_stop:
        inside = [hi for lo, hi in vetoes if lo < m < hi]
        if inside:
            m = max(inside)
            continue
        points.append(m)
        if len(points) > max_points:
            raise ValueError(f"more than {max_points} scan points")
        step = float(sig(m))
        if not (np.isfinite(step) and step > 0):
            raise ValueError(f"sigma_R({m}) = {step} is not a positive step")
        m = m + step
    return np.asarray(points, dtype=float)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def prepare_data(m_data, w_data=None) -> np.ndarray:
    """Finite, unit-weight diphoton masses for the window fits.

    Parameters
    ----------
    m_data : array_like
        M_γγ of the selected candidates (GeV).
    w_data : array_like or None, optional
        Per-event weights.  The window fit is an *unweighted* extended likelihood (the
        data and pseudo-data carry weight 1): events with weight 0 are removed, every
        other weight must be 1.

    Returns
    -------
    numpy.ndarray
        Masses (GeV) of the events with weight 1, non-finite values removed.

    Raises
    ------
    ValueError
        If a non-zero weight differs from 1, or the lengths differ.
    """
    m = np.asarray(m_data, dtype=float).ravel()
    if w_data is not None:
        w = np.asarray(w_data, dtype=float).ravel()
        if w.shape != m.shape:
            raise ValueError("w_data must have the same length as m_data")
        keep = w != 0.0
        if not np.allclose(w[keep], 1.0, rtol=0.0, atol=1e-9):
            raise ValueError(
                "fit_point fits unweighted data: weights must be 0 or 1 "
                "(use unit-weight data or pseudo-data)"
            )
        m = m[keep]
    return m[np.isfinite(m)]


def _in_window(m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return m[(m >= lo) & (m <= hi)]


def select_peaking(
    peaking_shapes: PeakingSpec | None,
    lo: float,
    hi: float,
    min_window_fraction: float = 1e-3,
    min_expected: float = 0.5,
) -> tuple[list[PeakingComponent], list[YieldConstraint], list[str]]:
    """Peaking components to include in the fit of window ``[lo, hi]``.

    A component is included if its DSCB has at least ``min_window_fraction`` of its
    probability inside the window and, unless it is constrained or its expected yield
    is ``None``, at least ``min_expected`` events are expected inside the window (a
    floating yield for a component expected to contribute nothing only destabilises the
    fit; such smooth, tiny contributions are absorbed by the polynomial).

    Parameters
    ----------
    peaking_shapes : mapping or None
        ``{name: (shape, expected_total, constraint_sigma)}``: DSCB shape (GeV),
        expected number of selected events over the full M_γγ range (or ``None``) and
        the Gaussian width of a yield constraint on that total (or ``None`` for a
        freely floating yield).
    lo, hi : float
        Window (GeV).
    min_window_fraction : float, optional
        Minimum in-window probability.
    min_expected : float, optional
        Minimum expected in-window yield (events) of an unconstrained component.

    Returns
    -------
    components : list of PeakingComponent
        With the expected in-window yield as starting value.
    constraints : list of YieldConstraint
        In-window mean ``f·expected`` and width ``f·sigma`` (f = in-window fraction).
    names : list of str
        Names of the included components.

    Raises
    ------
    ValueError
        If a constraint is requested without an expected yield.
    """
    comps: list[PeakingComponent] = []
    cons: list[YieldConstraint] = []
    for name, spec in (peaking_shapes or {}).items():
        shape, expected, c_sigma = spec
        shape = as_dscb_params(shape)
        frac = dscb_window_fraction(shape, lo, hi)
        if frac < min_window_fraction:
            continue
        exp_in = None if expected is None else float(expected) * frac
        if c_sigma is not None:
            if exp_in is None:
                raise ValueError(f"constraint on {name!r} needs an expected yield")
            cons.append(YieldConstraint(str(name), exp_in, float(c_sigma) * frac))
        elif exp_in is not None and exp_in < min_expected:
            continue
        comps.append(PeakingComponent(str(name), shape, exp_in))
    return comps, cons, [c.name for c in comps]


def _free_and_null(fit: Callable[..., WindowFit], minos: bool) -> tuple[WindowFit, WindowFit]:
    """Free and null (n_sig = 0) fit of one dataset (``fit(fix_signal_zero=, minos=,
    start=)``); the free fit is redone from the null minimum if the null fit found a
    lower NLL (the free fit then missed its minimum)."""
    free = fit(minos=minos)
    null = fit(fix_signal_zero=True, minos=False)
    if null.valid and (not free.valid or null.nll < free.nll - _NLL_TOL):
        retry = fit(minos=minos, start={**null.values, SIGNAL: 0.0})
        if retry.valid and (not free.valid or retry.nll < free.nll):
            retry = _with_attempts(retry, free.n_attempts + retry.n_attempts)
            free = retry
    return free, null


def _with_attempts(fit: WindowFit, n: int) -> WindowFit:
    return replace(fit, n_attempts=int(n))


def _window_fit_of(model: WindowModel, res: BatchFit, i: int, n_events: int, dropped) -> WindowFit:
    """Row ``i`` of a batched fit as a :class:`WindowFit` (public parametrisation,
    covariance through the model's Jacobian; one Newton fit counts as one attempt)."""
    theta = res.theta[i]
    fixed = bool(res.n_sig_fixed[i])
    names = model.public_names
    values = dict(zip(names, (float(v) for v in model.to_public(theta))))
    cov = res.covariance[i]
    if np.all(np.isfinite(cov)):
        jac = model.public_jacobian(theta)
        cov = jac @ cov @ jac.T
        errors = {k: float(np.sqrt(max(cov[j, j], 0.0))) for j, k in enumerate(names)}
    else:
        cov = None
        errors = {k: float("nan") for k in names}
    if fixed:
        errors[SIGNAL] = 0.0
    ok = bool(res.converged[i]) and all(np.isfinite(list(values.values())))
    return WindowFit(values=values, errors=errors, minos_errors={}, covariance=cov,
                     parameters=tuple(names), nll=float(res.nll[i]), valid=ok, n_attempts=1,
                     n_events=int(n_events), lo=model.lo, hi=model.hi, signal_fixed_zero=fixed,
                     dropped_components=tuple(dropped), edm=float(res.edm[i]),
                     at_positivity_boundary=bool(res.at_boundary[i]),
                     message="ok" if ok else "batched fit did not converge")  # fmt: skip


def batched_free_and_null(model: WindowModel, x: np.ndarray, dropped=(), tol: float = _BATCH_TOL):
    """Free and null (n_sig = 0) fit of the window masses ``x`` (GeV, inside the window)
    with the batched fitter, in one compiled call; the free fit is redone from the null
    minimum if that one is lower (as :func:`_free_and_null`).

    Returns ``(free, null)`` :class:`WindowFit` objects, ``valid=False`` where the Newton
    fit did not converge (:func:`fit_point` then falls back to iminuit)."""
    n = int(x.size)
    if n == 0 and not model.constraints:  # exact: every yield 0, -ln L = 0 (as fit_window)
        return empty_window_fit(model, False, dropped), empty_window_fit(model, True, dropped)
    b = model.basis(x) if n else np.zeros((model.n_par, 0))
    res = fit_batch(model, np.hstack([b, b]), [0, n, 2 * n], n_sig_fixed=[np.nan, 0.0], tol=tol)
    free, null = (_window_fit_of(model, res, i, n, dropped) for i in (0, 1))
    if null.valid and (not free.valid or null.nll < free.nll - _NLL_TOL):
        retry = fit_batch(model, b, [0, n], start=res.theta[1:2], tol=tol)
        redo = _window_fit_of(model, retry, 0, n, dropped)
        if redo.valid and (not free.valid or redo.nll < free.nll):
            free = replace(redo, n_attempts=2)
    return free, null


def profile_interval(model: WindowModel, x: np.ndarray, free: WindowFit, up: float = 0.5,
                     tol: float = _BATCH_TOL, rtol: float = 1e-4) -> tuple[float, float]:  # fmt: skip
    """Profile-likelihood interval of ``n_sig`` (Minos's definition): the errors
    ``(lower < 0, upper > 0)`` where the minimum of ``-ln L`` over the other parameters,
    with ``n_sig`` fixed, rises by ``up`` above the free minimum.

    Used where the Hesse error is undefined or meaningless (a minimum at the positivity
    edge).  Each side is bracketed by doubling a step from the Hesse (or √N) scale, then
    bisected to ``rtol`` of the bracket; every trial value is one batched fit with
    ``n_sig`` fixed.  A side whose profile never rises by ``up`` (the fixed-``n_sig``
    fits fail: e.g. a negative yield the density cannot accommodate) is NaN.
    """
    n = int(x.size)
    b = model.basis(x)
    n_hat = float(free.n_sig)
    nll0 = float(free.nll)
    step0 = free.n_sig_err if np.isfinite(free.n_sig_err) and free.n_sig_err > 0 else 1.0
    step0 = max(step0, 0.05 * np.sqrt(max(n, 1)), 0.1)

    def rise(values: np.ndarray) -> np.ndarray:
        k = values.size
        res = fit_batch(model, np.tile(b, (1, k)), np.arange(k + 1) * n, n_sig_fixed=values, tol=tol)
        return np.where(res.converged, res.nll - nll0 - up, np.nan)

    out = []
    for sign in (-1.0, 1.0):
        inner, outer, d = 0.0, float("nan"), step0
        for _ in range(40):  # bracket
            r = rise(np.array([n_hat + sign * d]))[0]
            if not np.isfinite(r):
                break
            if r > 0:
                outer = d
                break
            inner, d = d, 2.0 * d
        if not np.isfinite(outer):
            out.append(float("nan"))
            continue
        while outer - inner > rtol * outer:  # bisect, 8 trial values per call
            trial = np.linspace(inner, outer, 10)[1:-1]
            r = rise(n_hat + sign * trial)
            pos = np.flatnonzero(~(r <= 0))  # a failed fit counts as above
            j = int(pos[0]) if pos.size else trial.size
            inner, outer = (trial[j - 1] if j > 0 else inner), (trial[j] if j < trial.size else outer)
        out.append(sign * 0.5 * (inner + outer))
    return out[0], out[1]


# ---------------------------------------------------------------------------------------
# One scan point
# ---------------------------------------------------------------------------------------
def _point_spec(m_a, model, peaking_shapes, window_width_factor, min_window_fraction,
                min_expected):  # fmt: skip
    """``(lo, hi, signal shape, components, constraints, efficiency)`` at ``m_a``."""
    p = model.params_at(m_a)
    shape = DSCBParams(
        **{k: p[k] for k in ("mu", "sigma_l", "sigma_r", "alpha_l", "n_l", "alpha_r", "n_r")}
    )
    half = 0.5 * float(window_width_factor) * (shape.sigma_l + shape.sigma_r)
    lo, hi = m_a - half, m_a + half
    comps, cons, _ = select_peaking(peaking_shapes, lo, hi, min_window_fraction, min_expected)
    return lo, hi, shape, tuple(comps), tuple(cons), float(p["efficiency"])


def point_window(
    m_a: float,
    model: SignalModel,
    peaking_shapes: PeakingSpec | None = None,
    window_width_factor: float = 9.0,
    min_window_fraction: float = 1e-3,
    min_expected: float = 0.5,
) -> WindowModel:
    """Fit model of the mass hypothesis ``m_a`` (GeV): the window ``m_a ∓ W/2`` with
    ``W = window_width_factor·(σ_L + σ_R)``, the signal DSCB of ``model`` at ``m_a`` and
    the peaking components of :func:`select_peaking`.

    The model of the scan fits (:func:`fit_point`), the toy study and the limits, so that
    all of them fit exactly the same model.  See :func:`fit_point` for the parameters.
    Raises ``ValueError`` for an invalid window (e.g. a negative width factor).
    """
    lo, hi, shape, comps, cons, _ = _point_spec(
        float(m_a), model, peaking_shapes, window_width_factor, min_window_fraction, min_expected
    )
    return WindowModel(lo, hi, shape, comps, cons)


def fit_point(
    m_data,
    w_data,
    m_a: float,
    model: SignalModel,
    peaking_shapes: PeakingSpec | None = None,
    window_width_factor: float = 9.0,
    *,
    minos: bool = False,
    min_window_fraction: float = 1e-3,
    min_expected: float = 0.5,
    fitter: str = "batched",
) -> dict[str, Any]:
    """Extended unbinned ML fit of the M_γγ spectrum at one ALP mass hypothesis.

    The window is ``[m_a − W/2, m_a + W/2]`` with ``W = window_width_factor·(σ_L + σ_R)``
    and σ's from ``model`` at ``m_a``.  The model is signal DSCB (shape fixed from
    ``model.params_at(m_a)``) + second-order Chebyshev polynomial (floating) + the
    peaking components selected by :func:`select_peaking` (fixed shapes, floating
    yields, Gaussian-constrained where a constraint width is given, e.g. η_c).  It is
    fitted with the signal yield free and with ``N_sig = 0``; if the null fit ends below
    the free one the free fit is redone from the null minimum.

    The default fitter is the batched Newton fitter (:func:`batched_free_and_null`: the
    objective of :func:`~alpscan.fitting.window_fit.fit_window`, convex in the model's
    linear parameters, minimised to edm < 1e-10, also at the positivity edge); where it
    does not converge the point is fitted with ``fit_window`` (iminuit, which retries
    from other starting points).  Where the free minimum sits at the positivity edge
    (``at_boundary``) the Hesse error is not meaningful: ``n_sig_err_lo/hi`` then hold
    the profile-likelihood interval (:func:`profile_interval`) and ``n_sig_err`` its
    half-width (``err_from_profile`` True).

    Parameters
    ----------
    m_data : array_like
        M_γγ of the selected data candidates (GeV).
    w_data : array_like or None
        Per-event weights (0 or 1 only, see :func:`prepare_data`) or ``None``.
    m_a : float
        ALP mass hypothesis (GeV).
    model : SignalModel
        Interpolated signal model.
    peaking_shapes : mapping or None, optional
        ``{name: (DSCB shape, expected total yield or None, constraint sigma or None)}``
        (see :func:`select_peaking`).
    window_width_factor : float, optional
        Window width in units of σ_L + σ_R (9 in the paper).
    minos : bool, optional
        Run Minos on ``n_sig`` (fills ``n_sig_err_lo/hi``; about +50 % time).
    min_window_fraction, min_expected : float, optional
        Selection of the peaking components, see :func:`select_peaking`.
    fitter : {"batched", "iminuit"}, optional
        Minimiser (:data:`FITTERS`); ``"iminuit"`` is the reference ``fit_window`` path.
        With ``"batched"``, ``minos`` is the profile-likelihood interval of
        :func:`profile_interval` (the quantity Minos computes).

    Returns
    -------
    dict
        ``m_a``, ``mu``, ``sigma_l``, ``sigma_r`` (GeV, of the signal shape);
        ``efficiency`` = ``efficiency_total × window_fraction``, the probability for a
        produced signal event to be selected *and* to fall in the fit window, so that
        B = n_sig / (2 N_BB̄ f · efficiency) (``n_sig`` counts in-window events);
        ``efficiency_total`` (model efficiency); ``window_fraction`` (DSCB probability
        inside the window); ``n_sig``, ``n_sig_err`` (Hesse), ``n_sig_err_lo``,
        ``n_sig_err_hi`` (Minos, NaN unless requested); ``significance``
        S = sign(N_sig)·√(2(NLL₀ − NLL₁)); ``nll_free``, ``nll_null`` (−ln L);
        ``n_bkg``; ``fit_ok`` (both fits valid), ``fit_ok_free``, ``fit_ok_null``;
        ``at_boundary`` (free fit at the density-positivity boundary);
        ``n_attempts`` (fit attempts, both fits); ``fitter`` (the one that gave the
        result); ``err_from_profile``; ``n_events`` (in window);
        ``window_lo``, ``window_hi`` (GeV); ``components`` (comma-separated peaking
        components fitted); ``message``.

        If a fit is invalid, ``fit_ok`` is False and ``significance`` NaN; ``n_sig`` and
        its errors are NaN unless the free fit itself is valid.
    """
    if fitter not in FITTERS:
        raise ValueError(f"fitter must be one of {FITTERS}, got {fitter!r}")
    m_a = float(m_a)
    lo, hi, shape, comps, cons, eff = _point_spec(
        m_a, model, peaking_shapes, window_width_factor, min_window_fraction, min_expected
    )
    try:
        frac = dscb_window_fraction(shape, lo, hi)
    except ValueError:
        frac = float("nan")
    names = [c.name for c in comps]
    p = {"efficiency": eff}
    x = _in_window(prepare_data(m_data, w_data), lo, hi)
    nan = float("nan")
    free = null = None
    used, me, from_profile = "iminuit", (nan, nan), False
    if fitter == "batched":
        try:
            wmodel, dropped = WindowModel.build(lo, hi, shape, comps, cons)
        except (TypeError, ValueError, KeyError):  # fit_window flags (not raises) a bad model
            wmodel = None
        if wmodel is not None:
            free, null = batched_free_and_null(wmodel, x, dropped)
            if free.valid and null.valid:
                used = "batched"
                if (minos or free.at_positivity_boundary) and x.size:
                    me = profile_interval(wmodel, x, free)
                    if free.at_positivity_boundary and np.all(np.isfinite(me)):
                        free = replace(free, errors={**free.errors, SIGNAL: 0.5 * (me[1] - me[0])})
                        from_profile = True
            else:
                free = null = None
    if free is None:
        # fit_window builds point_window's WindowModel, and flags (not raises) a bad one.
        free, null = _free_and_null(partial(fit_window, x, lo, hi, shape, comps, cons), minos)
        me = free.minos_errors.get(SIGNAL, (nan, nan))
    ok = bool(free.valid and null.valid)
    sig = significance_from_nll(free.nll, null.nll, free.n_sig) if ok else float("nan")
    msgs = [] if ok else [f"free: {free.message}", f"null: {null.message}"]
    return {
        "m_a": m_a,
        "mu": shape.mu,
        "sigma_l": shape.sigma_l,
        "sigma_r": shape.sigma_r,
        "efficiency": float(p["efficiency"]) * frac,
        "efficiency_total": float(p["efficiency"]),
        "window_fraction": frac,
        "n_sig": free.n_sig if free.valid else nan,
        "n_sig_err": free.n_sig_err if free.valid else nan,
        "n_sig_err_lo": float(me[0]) if free.valid else nan,
        "n_sig_err_hi": float(me[1]) if free.valid else nan,
        "significance": sig,
        "nll_free": free.nll,
        "nll_null": null.nll,
        "n_bkg": free.values.get("n_bkg", nan) if free.valid else nan,
        "fit_ok": ok,
        "fit_ok_free": bool(free.valid),
        "fit_ok_null": bool(null.valid),
        "at_boundary": bool(free.at_positivity_boundary),
        "n_attempts": int(free.n_attempts + null.n_attempts),
        "fitter": used,
        "err_from_profile": from_profile,
        "n_events": int(free.n_events),
        "window_lo": lo,
        "window_hi": hi,
        "components": ",".join(names),
        "message": "ok" if ok else "; ".join(msgs),
    }


def fit_points(
    m_data,
    w_data,
    points,
    model: SignalModel,
    peaking_shapes: PeakingSpec | None = None,
    **kwargs,
) -> pd.DataFrame:
    """:func:`fit_point` for each of ``points`` (a chunk of the scan).

    The data are cleaned once (:func:`prepare_data`); each fit uses only its window's
    events.
    The loop runs over scan points (each an independent fit), not over events.

    Parameters
    ----------
    m_data, w_data : array_like, array_like or None
        Data masses (GeV) and weights, see :func:`fit_point`.
    points : array_like
        Mass hypotheses (GeV).
    model : SignalModel
        Signal model.
    peaking_shapes : mapping or None, optional
        See :func:`fit_point`.
    **kwargs
        Passed to :func:`fit_point` (``window_width_factor``, ``minos``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per point (columns as the keys of :func:`fit_point`), in input order.
    """
    x = prepare_data(m_data, w_data)
    rows = [
        fit_point(x, None, float(m), model, peaking_shapes, **kwargs)
        for m in np.atleast_1d(np.asarray(points, dtype=float))
    ]
    if not rows:
        empty = fit_point(np.empty(0), None, model.m_min, model, None)
        return pd.DataFrame(columns=list(empty))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------
def chunk_points(points, n_chunks: int) -> list[np.ndarray]:
    """Split scan points into ``n_chunks`` contiguous, near-equal chunks.

    Deterministic (``numpy.array_split``): chunk sizes differ by at most one, the
    concatenation of the chunks is ``points``; chunks may be empty if
    ``n_chunks > len(points)``.

    Parameters
    ----------
    points : array_like
        Scan masses (GeV).
    n_chunks : int
        Number of chunks (>= 1).

    Returns
    -------
    list of numpy.ndarray
    """
    n_chunks = int(n_chunks)
    if n_chunks < 1:
        raise ValueError("n_chunks must be >= 1")
    return np.array_split(np.asarray(points, dtype=float), n_chunks)


def chunk_of(points, chunk: int, n_chunks: int) -> np.ndarray:
    """Points of chunk number ``chunk`` (0-based) out of ``n_chunks`` (see
    :func:`chunk_points`).

    Raises
    ------
    ValueError
        If ``chunk`` is not in ``[0, n_chunks)``.
    """
    chunk = int(chunk)
    if not 0 <= chunk < int(n_chunks):
        raise ValueError(f"chunk {chunk} not in [0, {n_chunks})")
    return chunk_points(points, n_chunks)[chunk]


def read_chunks(paths: Sequence[str], points, *, n_toys: int | None = None) -> pd.DataFrame:
    """Concatenate the chunk files of one mode, checking that nothing is missing.

    ``paths[i]`` must be chunk ``i`` of ``len(paths)`` (the workflow's order) and hold
    exactly the scan points :func:`chunk_of` assigns to it, one row each; with
    ``n_toys`` (toy chunks) every row must also record ``n_toys`` toys of which at most
    that many converged.  A file that is valid parquet but holds fewer, more or other
    rows is an error, never merged silently.

    Parameters
    ----------
    paths : sequence of str
        Chunk files (parquet with an ``m_a`` column, GeV), in chunk order.
    points : array_like
        All scan points of the mode (GeV), as in ``results/scan/{mode}/points.parquet``.
    n_toys : int, optional
        Toys per scan point the toy chunks must hold (config ``toys.n_toys``).

    Returns
    -------
    pandas.DataFrame
        The rows of all chunks, in chunk order (increasing ``m_a``).

    Raises
    ------
    ValueError
        Naming the file, when it cannot be read, is labelled as another chunk, or holds
        other points (or toy counts) than expected.
    """
    from alpscan.io import read_metadata, read_parquet

    n_chunks = len(paths)
    if n_chunks < 1:
        raise ValueError("read_chunks needs at least one chunk file")
    frames = []
    for i, (path, want) in enumerate(zip(paths, chunk_points(points, n_chunks))):
        meta = read_metadata(path)
        if "chunk" in meta and int(meta["chunk"]) != i:
            raise ValueError(f"chunk file {path!r} is labelled chunk {meta['chunk']}, expected chunk {i} of {n_chunks}")
        table = read_parquet(path)
        if "m_a" not in table.columns:
            raise ValueError(f"chunk file {path!r} has no column 'm_a'")
        got = np.sort(table["m_a"].to_numpy(dtype=float))
        if got.size != want.size:
            raise ValueError(f"chunk file {path!r} holds {got.size} scan points, expected {want.size} "
                             f"(chunk {i} of {n_chunks}, {np.size(points)} points in all): incomplete or stale; rerun its job")
        if not np.array_equal(got, want):
            raise ValueError(f"chunk file {path!r} holds other scan points than chunk {i} of {n_chunks} "
                             "(stale: the scan points changed); rerun its job")
        if n_toys is not None:
            for col in ("n_toys", "n_toys_ok"):
                if col not in table.columns:
                    raise ValueError(f"toy chunk file {path!r} has no column {col!r}")
            bad = table["n_toys"].to_numpy() != int(n_toys)
            if bad.any():
                raise ValueError(f"toy chunk file {path!r}: {int(bad.sum())} points hold "
                                 f"{sorted(set(table['n_toys'][bad].tolist()))} toys, expected {int(n_toys)} (config toys.n_toys)")
            if (table["n_toys_ok"].to_numpy() > table["n_toys"].to_numpy()).any():
                raise ValueError(f"toy chunk file {path!r}: more converged toys (n_toys_ok) than toys (n_toys)")
        frames.append(table)
    nonempty = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(nonempty, ignore_index=True)


# ---------------------------------------------------------------------------------------
# Control modes
# ---------------------------------------------------------------------------------------
def fit_control_eta(
    m_data,
    w_data,
    eta_shape,
    window: tuple[float, float],
    peaking_shapes: PeakingSpec | None = None,
    *,
    minos: bool = True,
    min_window_fraction: float = 1e-3,
    min_expected: float = 0.5,
) -> dict[str, Any]:
    """Measure the η → γγ peak yield of a B → K η control channel.

    The same extended ML fit as :func:`fit_point`, with the η DSCB (from simulation)
    as the fixed "signal" shape, in ``window``; other peaking components (e.g. the π⁰
    tail or η′) may be added via ``peaking_shapes`` (without an ``"eta"`` entry).

    Parameters
    ----------
    m_data, w_data : array_like, array_like or None
        Data masses (GeV) and weights (0/1), see :func:`prepare_data`.
    eta_shape : DSCBParams, Mapping or sequence
        η line shape (GeV).
    window : (float, float)
        Fit window (GeV), e.g. ``(0.45, 0.65)``.
    peaking_shapes : mapping or None, optional
        See :func:`select_peaking`.
    minos : bool, optional
        Run Minos on the η yield.
    min_window_fraction, min_expected : float, optional
        See :func:`select_peaking`.

    Returns
    -------
    dict
        ``n_eta`` (in-window yield), ``n_eta_err`` (Hesse), ``n_eta_err_lo``,
        ``n_eta_err_hi`` (Minos), ``window_fraction`` (η DSCB probability in the window;
        total yield = n_eta / window_fraction), ``significance``, ``nll_free``,
        ``nll_null``, ``fit_ok``, ``n_attempts``, ``n_events``, ``window_lo``,
        ``window_hi``, ``components``, ``message``.
    """
    lo, hi = (float(v) for v in window)
    shape = as_dscb_params(eta_shape)
    x = _in_window(prepare_data(m_data, w_data), lo, hi)
    comps, cons, names = select_peaking(peaking_shapes, lo, hi, min_window_fraction, min_expected)
    free, null = _free_and_null(partial(fit_window, x, lo, hi, shape, comps, cons), minos)
    ok = bool(free.valid and null.valid)
    me = free.minos_errors.get(SIGNAL, (float("nan"), float("nan")))
    nan = float("nan")
    try:
        frac = dscb_window_fraction(shape, lo, hi)
    except ValueError:
        frac = nan
    return {
        "n_eta": free.n_sig if free.valid else nan,
        "n_eta_err": free.n_sig_err if free.valid else nan,
        "n_eta_err_lo": float(me[0]) if free.valid else nan,
        "n_eta_err_hi": float(me[1]) if free.valid else nan,
        "window_fraction": frac,
        "significance": significance_from_nll(free.nll, null.nll, free.n_sig) if ok else nan,
        "nll_free": free.nll,
        "nll_null": null.nll,
        "fit_ok": ok,
        "n_attempts": int(free.n_attempts + null.n_attempts),
        "n_events": int(free.n_events),
        "window_lo": lo,
        "window_hi": hi,
        "components": ",".join(names),
        "message": "ok" if ok else f"free: {free.message}; null: {null.message}",
    }


def branching_fraction(n, efficiency, n_bb, f):
    """Branching fraction from a signal yield, B = N / (2 · N_BB̄ · f · ε).

    Parameters
    ----------
    n : float or array_like
        Signal yield (events); its errors convert with the same factor.
    efficiency : float or array_like
        Signal efficiency ε (including sub-decay branching fractions and, for an
        in-window yield, the window fraction).
    n_bb : float
        Number of BB̄ pairs.
    f : float
        f₊₋ (charged B modes) or f₀₀ (neutral).

    Returns
    -------
    float or numpy.ndarray
        Branching fraction (dimensionless; NaN where ε ≤ 0).
    """
    n = np.asarray(n, dtype=float)
    eps = np.asarray(efficiency, dtype=float)
    denom = 2.0 * float(n_bb) * float(f) * eps
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, n / np.where(denom > 0, denom, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out
