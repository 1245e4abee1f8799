"""Tune of the toy's [T] detector parameters to Belle's published σ_R (issue 13).

Like a generator tune: a few physically meaningful toy parameters are scanned on a
grid, each grid point is simulated with the project's own generator and reconstruction
(:func:`alpscan.generation.generators.generate_b_to_k_h` and
:func:`alpscan.generation.reconstruct.reconstruct`, the same code the ``generate``
rule runs), and the point with the smallest objective is chosen.  The objective is
Σ ((value − paper) / (tolerance × paper))² over the targets: σ_R of the prompt signal
M_γγ after the kinematic fit at the fidelity masses (``fidelity`` in the config).

Every grid point reuses the same truth events and the same reconstruction random
numbers (common random numbers), so the objective is a smooth function of the
parameters and its differences are not statistical noise.

Usage::

    python -m alpscan.tune --tune config/tune.yaml [--config config/config.yaml]
                           [--out results/tune] [--write-config]

Writes ``objective.csv`` (one row per grid point), ``chosen.json`` (chosen values,
targets before and after) and ``tune.png`` (every target before and after) to
``--out``; ``--write-config`` puts the chosen values into the config file, with a
comment naming the tune.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from alpscan.generation.detector import cm_boost_vector
from alpscan.generation.generators import generate_b_to_k_h
from alpscan.generation.reconstruct import reconstruct
from alpscan.plotting.targets import plot_targets
from alpscan.validation.fidelity import fit_signal_peak
from alpscan.validation.targets import target_status

#: the tunable keys (section.key of the main config) and why each may be tuned
TUNABLE = {
    "detector.photon_position_scale": "in-situ photon position resolution / the spec's formula",
    "detector.kinfit_k_error_scale": "K(*) momentum errors the kinematic fit assumes / the true ones",
}


def set_key(cfg: dict, dotted: str, value) -> dict:
    """A deep copy of ``cfg`` with ``section.key`` set to ``value`` (the key must exist)."""
    if dotted not in TUNABLE:
        raise KeyError(f"{dotted!r} is not tunable; tunable keys: {sorted(TUNABLE)}")
    section, key = dotted.split(".")
    if key not in cfg.get(section, {}):
        raise KeyError(f"config has no key {dotted!r}")
    out = copy.deepcopy(cfg)
    out[section][key] = value
    return out


def simulate_signal(cfg: dict, mode: str, masses_gev, n_events: int, seed: int) -> list:
    """Truth events of prompt signal at each mass: [(m_a, TruthEvents)], fixed by ``seed``."""
    beam = cfg["beam"]
    beta = cm_boost_vector(beam["e_her_gev"], beam["e_ler_gev"], beam["crossing_angle_mrad"])
    gen = cfg["generation"]
    out = []
    for i, m_a in enumerate(masses_gev):
        rng = np.random.default_rng([seed, i])
        ev = generate_b_to_k_h(rng, n_events, mode, m_a, 0.0, gen["model"], gen["sim_tune"], beam["sqrt_s_gev"], beta)
        out.append((float(m_a), ev))
    return out


def evaluate_sigma_r(cfg: dict, mode: str, truth: list, seed: int) -> dict:
    """σ_R (MeV) after and before the kinematic fit and the preselection efficiency at
    each mass of ``truth`` for the detector of ``cfg``; the reconstruction random
    numbers depend only on ``seed`` and the mass index."""
    beam = cfg["beam"]
    beta = cm_boost_vector(beam["e_her_gev"], beam["e_ler_gev"], beam["crossing_angle_mrad"])
    b = {"sqrt_s": beam["sqrt_s_gev"], "beta_cm": beta}
    half = cfg["fidelity"]["fit_half_width_sigmas"]
    res = {"m_a_gev": [], "sigma_r_mev": [], "sigma_r_before_fit_mev": [], "efficiency_reco": [], "valid": []}
    for i, (m_a, ev) in enumerate(truth):
        rng = np.random.default_rng([seed, 1000 + i])
        out, _ = reconstruct(rng, ev, mode, b, cfg["detector"], cfg["preselection"])
        after = fit_signal_peak(np.asarray(out["m_gg"]), m_a, half)
        before = fit_signal_peak(np.asarray(out["m_gg_raw"]), m_a, half)
        res["m_a_gev"].append(m_a)
        res["sigma_r_mev"].append(1e3 * after["sigma_r"])
        res["sigma_r_before_fit_mev"].append(1e3 * before["sigma_r"])
        res["efficiency_reco"].append(len(out["m_gg"]) / ev.n)
        res["valid"].append(bool(after["valid"] and before["valid"]))
    return res


def objective(values, paper, tolerance: float) -> float:
    """Σ ((value − paper) / (tolerance × paper))²: 1 per target at the edge of its tolerance."""
    v, p = np.asarray(values, float), np.asarray(paper, float)
    return float(np.sum(((v - p) / (tolerance * p)) ** 2))


def run_tune(cfg: dict, tune: dict) -> tuple[pd.DataFrame, dict]:
    """Evaluate the grid of ``tune['parameters']``; returns (objective table, chosen)."""
    mode = tune["mode"]
    masses = cfg["fidelity"]["masses_gev"]
    paper = cfg["fidelity"]["paper_sigma_r_mev"]
    tol = float(tune["tolerance"])
    names = list(tune["parameters"])
    for name in names:
        set_key(cfg, name, None)  # validates the key
    truth = simulate_signal(cfg, mode, masses, int(tune["n_events_per_mass"]), int(tune["seed"]))
    rows = []
    for values in itertools.product(*(tune["parameters"][k] for k in names)):
        c = cfg
        for k, v in zip(names, values):
            c = set_key(c, k, float(v))
        r = evaluate_sigma_r(c, mode, truth, int(tune["seed"]))
        row = dict(zip(names, map(float, values)))
        for m, s, s0, e in zip(masses, r["sigma_r_mev"], r["sigma_r_before_fit_mev"], r["efficiency_reco"]):
            row[f"sigma_r_mev@{m:g}"] = s
            row[f"sigma_r_before_fit_mev@{m:g}"] = s0
            row[f"efficiency_reco@{m:g}"] = e
        row["all_fits_valid"] = all(r["valid"])
        row["objective"] = objective(r["sigma_r_mev"], paper, tol)
        rows.append(row)
    table = pd.DataFrame(rows)
    valid = table[table["all_fits_valid"]]
    if valid.empty:
        raise RuntimeError("no grid point of the tune has valid DSCB fits at every mass")
    best = valid.loc[valid["objective"].idxmin()]
    before = evaluate_sigma_r(cfg, mode, truth, int(tune["seed"]))
    chosen = {
        "mode": mode,
        "n_events_per_mass": int(tune["n_events_per_mass"]),
        "seed": int(tune["seed"]),
        "values": {k: float(best[k]) for k in names},
        "before_values": {k: float(cfg[k.split(".")[0]][k.split(".")[1]]) for k in names},
        "objective": float(best["objective"]),
        "objective_before": objective(before["sigma_r_mev"], paper, tol),
        "targets": [
            {
                "name": f"sigma_R {mode} {m:g} GeV",
                "unit": "MeV",
                "group": "sigma_R",
                **target_status(float(best[f"sigma_r_mev@{m:g}"]), p, tol, relative=True),
                "before": float(b),
            }
            for m, p, b in zip(masses, paper, before["sigma_r_mev"])
        ],
    }
    return table, chosen


def write_config_values(path: Path, values: dict, note: str) -> None:
    """Replace the values of ``section.key`` lines in the YAML file ``path`` in place,
    keeping every other line and comment, and append ``note`` to their comment."""
    lines = Path(path).read_text().splitlines(keepends=True)
    for dotted, value in values.items():
        section, key = dotted.split(".")
        in_section, done = False, False
        for i, line in enumerate(lines):
            if re.match(rf"^{re.escape(section)}:", line):
                in_section = True
                continue
            if in_section and re.match(r"^\S", line):
                break
            m = re.match(rf"^(\s+{re.escape(key)}:\s*)([^#\s]+)(\s*)(#.*)?$", line.rstrip("\n")) if in_section else None
            if m:
                comment = re.sub(r"\s*\(tuned:[^)]*\)", "", m.group(4) or "#").rstrip()
                lines[i] = f"{m.group(1)}{value:g}{m.group(3) or '  '}{comment} (tuned: {note})\n"
                done = True
                break
        if not done:
            raise KeyError(f"{path}: no line '{key}:' in section '{section}'")
    Path(path).write_text("".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Tune the toy's [T] detector parameters to Belle's sigma_R.")
    parser.add_argument("--tune", default="config/tune.yaml", help="tune configuration (grid, statistics, seed)")
    parser.add_argument("--config", default="config/config.yaml", help="main configuration (fidelity targets, detector)")
    parser.add_argument("--out", default="results/tune", help="output directory")
    parser.add_argument("--write-config", action="store_true", help="write the chosen values into --config")
    args = parser.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    tune = yaml.safe_load(Path(args.tune).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table, chosen = run_tune(cfg, tune)
    table.to_csv(out / "objective.csv", index=False)
    (out / "chosen.json").write_text(json.dumps(chosen, indent=2))
    plot_targets(chosen["targets"], out / "tune.png", before=[t["before"] for t in chosen["targets"]])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.sort_values("objective").head(10).to_string(index=False))
    print(f"chosen: {chosen['values']}  objective {chosen['objective']:.3f} (before {chosen['objective_before']:.3f})")
    for t in chosen["targets"]:
        print(f"  {t['name']}: {t['before']:.1f} -> {t['value']:.1f} {t['unit']} (paper {t['paper']:g}, "
              f"{'pass' if t['pass'] else 'FAIL'})")
    if args.write_config:
        write_config_values(Path(args.config), chosen["values"], f"python -m alpscan.tune --tune {args.tune}")
        print(f"wrote {sorted(chosen['values'])} to {args.config}")
    print(f"saved {out / 'objective.csv'}, chosen.json and tune.png")


if __name__ == "__main__":
    main()
