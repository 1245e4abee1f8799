"""Semantic configuration checks beyond the JSON schema (``config/schema.yaml``).

The schema checks types, ranges and unknown keys; :func:`check_config` checks the
relations between keys.  Each problem raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _fail(key: str, why: str):
    raise ConfigError(f"config key '{key}': {why}")


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` for inconsistent configuration values."""
    modes = config["modes"]
    if len(set(modes)) != len(modes):
        _fail("modes", f"duplicate entries in {modes}")
    gen = config["generation"]
    grid = gen["signal"]["mass_grid"]
    if not grid["m_min_gev"] < min(grid["m_max_k_gev"], grid["m_max_kstar_gev"]):
        _fail("generation.signal.mass_grid.m_min_gev", "must be below m_max_k_gev and m_max_kstar_gev")
    box, pre = gen["model"]["box"], config["preselection"]
    if pre["mbc_min"] < box["mbc_min"]:
        _fail("preselection.mbc_min", f"must be >= generation.model.box.mbc_min ({box['mbc_min']})")
    if pre["de_min"] < box["de_min"] or pre["de_max"] > box["de_max"]:
        _fail("preselection.de_min", "the Delta E window must lie inside generation.model.box")
    if pre["de_min"] >= pre["de_max"]:
        _fail("preselection.de_min", "must be below preselection.de_max")
    if pre["mbc_min"] >= 0.5 * config["beam"]["sqrt_s_gev"]:
        _fail("preselection.mbc_min", "must be below the beam energy sqrt_s_gev/2")
    lo, hi = config["detector"]["kstar_mass_window_gev"]
    if lo >= hi:
        _fail("detector.kstar_mass_window_gev", "lower edge must be below the upper edge")
    t_lo, t_hi = config["detector"]["track_theta_deg"]
    if t_lo >= t_hi:
        _fail("detector.track_theta_deg", "lower edge must be below the upper edge")
    m_lo, m_hi = gen["model"]["b_multiplicity"]
    if m_lo > m_hi:
        _fail("generation.model.b_multiplicity", "minimum exceeds maximum")
    inj = gen["inject"]
    if inj["enabled"] and inj["branching_fraction"] <= 0:
        _fail("generation.inject.branching_fraction", "must be > 0 when inject.enabled is true")
    fid = config["fidelity"]
    if len(fid["masses_gev"]) != len(fid["paper_sigma_r_mev"]):
        _fail("fidelity.paper_sigma_r_mev", "needs one value per entry of fidelity.masses_gev")
