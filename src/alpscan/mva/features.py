"""Input-variable lists of the classifiers, the variables they must never see, and the
training/fit split of the simulated samples.

Design notes: docs/selection.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "CS1_VARIABLES",
    "CS2_VARIABLES",
    "XSGAMMA_VARIABLES",
    "FORBIDDEN_VARIABLES",
    "MASS_BOUNDARY_GEV",
    "MASS_REGIONS",
    "mass_region",
    "check_no_forbidden",
    "feature_frame",
    "uid_uniform",
    "split_train",
]

#: First continuum-suppression classifier, the paper's 10 variables [P]: R2, the
#: cosines of the angles between the signal-B thrust axis and (i) the ROE thrust axis,
#: (ii) the beam (z) axis, the ROE thrust magnitude, and six KSFW moments.  The paper
#: does not name its six moments; we take the six even-order (l = 2, 4) "so"/"oo"
#: moments, which are the ones that separate jet-like from spherical events (odd-l
#: moments vanish on average for both, and the l = 0 moments mostly measure the
#: energy/multiplicity scale).  In the toy they are also the six most discriminating
#: KSFW moments (single-variable AUC 0.64–0.85 for signal vs continuum).
CS1_VARIABLES: tuple[str, ...] = (
    "r2",
    "cos_thrust_b_roe",
    "cos_thrust_b_z",
    "roe_thrust",
    "ksfw_so_c2",
    "ksfw_so_n2",
    "ksfw_so_c4",
    "ksfw_so_n4",
    "ksfw_oo2",
    "ksfw_oo4",
)

#: Second continuum-suppression classifier [P/T]: event sphericity and aplanarity,
#: momentum flow along/against the thrust axis, the five harmonic moments about the
#: thrust axis, the photon energy asymmetry, the KSFW moments not used in CS1 (missing
#: mass squared, transverse energy, l = 0 and odd-l "so" moments, the "missing" so
#: moments, and the l = 0, 1, 3 "oo" moments) and the number of candidates in the event.
CS2_VARIABLES: tuple[str, ...] = (
    "sphericity",
    "aplanarity",
    "mflow_forward",
    "mflow_backward",
    "harmonic_b0",
    "harmonic_b1",
    "harmonic_b2",
    "harmonic_b3",
    "harmonic_b4",
    "gamma_energy_asym",
    "ksfw_mm2",
    "ksfw_et",
    "ksfw_so_c0",
    "ksfw_so_c1",
    "ksfw_so_c3",
    "ksfw_so_n0",
    "ksfw_so_m0",
    "ksfw_so_m2",
    "ksfw_so_m4",
    "ksfw_oo0",
    "ksfw_oo1",
    "ksfw_oo3",
    "n_cand",
)

#: B → X_sγ suppression classifier, six variables [P]: E9/E21 of each photon, the
#: energy of the most energetic crystal of each photon's cluster (the paper's "energy of
#: the most energetic crystal"; we use both photons, which gives the paper's count of six
#: and keeps the list symmetric, since ``gamma1``/``gamma2`` are not energy-ordered), and
#: the two helicity angles.
XSGAMMA_VARIABLES: tuple[str, ...] = (
    "e9e21_gamma1",
    "e9e21_gamma2",
    "emax_gamma1",
    "emax_gamma2",
    "cos_hel_a",
    "cos_hel_b",
)

#: Columns that must never be used as classifier inputs (see docs/selection.md).
FORBIDDEN_VARIABLES: frozenset[str] = frozenset(
    {
        "m_gg",
        "m_gg_raw",
        "mbc",
        "delta_e",
        "chi2_kinfit",
        "kinfit_ok",
        "truth_match",
        "parent_gamma1",
        "parent_gamma2",
        "component",
        "m_a_true",
        "flight_mm",
        "ctau_mm",
        "weight",
        "uid",
        "event_id",
    }
)

#: Boundary between the low and high M_γγ classifiers (GeV) [P/T].
MASS_BOUNDARY_GEV: float = 1.0

#: Mass-region labels, in the order low, high.
MASS_REGIONS: tuple[str, str] = ("low", "high")


def mass_region(m_gg, boundary: float = MASS_BOUNDARY_GEV):
    """Mass region of each candidate: ``'low'`` below ``boundary``, ``'high'`` at or above.

    Parameters
    ----------
    m_gg : float or array_like
        Diphoton mass in GeV.
    boundary : float, optional
        Region boundary in GeV (default 1.0, spec §5).

    Returns
    -------
    str or numpy.ndarray
        ``'low'``/``'high'`` for a scalar input, otherwise an array of those strings
        with the shape of ``m_gg``.

    Raises
    ------
    ValueError
        If any mass is not finite.
    """
    m = np.asarray(m_gg, dtype=float)
    if not np.all(np.isfinite(m)):
        raise ValueError("mass_region: m_gg must be finite")
    out = np.where(m < boundary, MASS_REGIONS[0], MASS_REGIONS[1])
    return str(out) if out.ndim == 0 else out


def check_no_forbidden(variables: Sequence[str]) -> None:
    """Raise if a variable list contains a mass, selection or truth column.

    Parameters
    ----------
    variables : sequence of str
        Proposed classifier inputs.

    Raises
    ------
    ValueError
        If any entry is in :data:`FORBIDDEN_VARIABLES` or a name is repeated.
    """
    bad = sorted(set(variables) & FORBIDDEN_VARIABLES)
    if bad:
        raise ValueError(f"forbidden classifier inputs: {bad}")
    if len(set(variables)) != len(tuple(variables)):
        raise ValueError("repeated classifier input")


def feature_frame(df: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """The classifier inputs of ``df``, in the order of ``variables``, as float64.

    Parameters
    ----------
    df : pandas.DataFrame
        Candidate table.
    variables : sequence of str
        Column names (e.g. :data:`CS1_VARIABLES`).

    Returns
    -------
    pandas.DataFrame
        A new frame with exactly those columns.

    Raises
    ------
    KeyError
        If a column is missing.
    ValueError
        If a forbidden column is requested or a value is not finite.
    """
    variables = tuple(variables)
    check_no_forbidden(variables)
    missing = [v for v in variables if v not in df.columns]
    if missing:
        raise KeyError(f"missing feature columns: {missing}")
    out = df.loc[:, list(variables)].astype(np.float64)
    if not np.all(np.isfinite(out.to_numpy())):
        raise ValueError("non-finite feature values")
    return out


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014) on a uint64 array, wrapping."""
    with np.errstate(over="ignore"):
        z = x + _M1
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        return z ^ (z >> np.uint64(31))


def uid_uniform(uid, seed: int) -> np.ndarray:
    """A pseudo-random number in [0, 1) that is a fixed function of (uid, seed).

    ``u = splitmix64(uid XOR splitmix64(seed)) >> 11`` scaled by 2⁻⁵³.  The result for a
    candidate depends only on its own ``uid`` and the seed — not on row order, on the
    other rows, or on the platform — so the same candidate always lands on the same side
    of every split.

    Parameters
    ----------
    uid : array_like of int
        Unique candidate ids (int64; negative values are reinterpreted as uint64).
    seed : int
        Split seed (any integer, reduced modulo 2⁶⁴).

    Returns
    -------
    numpy.ndarray
        float64 array with the shape of ``uid``.
    """
    u = np.asarray(uid)
    if not np.issubdtype(u.dtype, np.integer):
        raise TypeError("uid must be an integer array")
    u = u.astype(np.int64).view(np.uint64)
    s = _splitmix64(np.array([int(seed) % 2**64], dtype=np.uint64))[0]
    h = _splitmix64(u ^ s)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def split_train(uid, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask selecting the BDT-training part of a sample, by a hash of ``uid``.

    Candidates with ``uid_uniform(uid, seed) < fraction`` are for training; the
    complement is for building and validating the fit (efficiencies, shapes, cut
    optimisation).  Because the decision is a hash of the unique id, it is
    deterministic, independent of row order and of which other rows are present, and
    two candidates of the same event are split independently (their uids differ).

    Parameters
    ----------
    uid : array_like of int
        Unique candidate ids.
    fraction : float
        Expected training fraction, in [0, 1].
    seed : int
        Split seed.

    Returns
    -------
    numpy.ndarray
        Boolean mask, ``True`` for training rows.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be in [0, 1]")
    return uid_uniform(uid, seed) < fraction
