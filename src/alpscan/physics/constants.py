"""PDG masses and lifetimes (from the ``particle`` package, never typed by hand).

All masses are returned in GeV and proper decay lengths in mm.  The functions are
cached so the PDG table is read once per process; they hold no mutable state.
"""

from __future__ import annotations

from functools import lru_cache

from particle import Particle

#: PDG Monte Carlo numbers of the particles alpscan needs (names as in ``particle``:
#: B+, B0, K+, K(S)0, K*(892)0, K*(892)+, pi+, pi0, eta, eta'(958), eta(c)(1S),
#: Upsilon(4S), W+).  Look-up by PDG ID is fast; by name it scans the whole table.
PDG_NAMES = {
    "B+": 521,
    "B0": 511,
    "K+": 321,
    "K0S": 310,
    "Kst0": 313,
    "Kstp": 323,
    "pi+": 211,
    "pi0": 111,
    "eta": 221,
    "etap": 331,
    "etac": 441,
    "Y4S": 300553,
    "W": 24,
}


@lru_cache(maxsize=None)
def _particle(key: str) -> Particle:
    try:
        return Particle.from_pdgid(PDG_NAMES[key])
    except KeyError as err:
        raise KeyError(f"unknown particle key {key!r}; known: {sorted(PDG_NAMES)}") from err


def mass_gev(key: str) -> float:
    """PDG mass of particle ``key`` (a key of :data:`PDG_NAMES`) in GeV."""
    return float(_particle(key).mass) / 1000.0


def width_gev(key: str) -> float:
    """PDG total width of particle ``key`` in GeV (0 for stable particles)."""
    width = _particle(key).width
    return 0.0 if width is None else float(width) / 1000.0


def ctau_mm(key: str) -> float:
    """PDG proper decay length c·τ of particle ``key`` in mm."""
    return float(_particle(key).ctau)
