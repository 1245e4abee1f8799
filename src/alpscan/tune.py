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

#: the tunable keys (dotted path in the main config) and what each one is
TUNABLE = {
    "detector.photon_position_scale": "in-situ photon position resolution / the spec's formula",
    "detector.kinfit_k_error_scale": "K(*) momentum errors the kinematic fit assumes / the true ones",
    "detector.beam_background.mean_clusters": "beam-background clusters per event",
    "detector.beam_background.energy_scale_gev": "mean energy of a beam-background cluster",
}
#: the paper's candidate multiplicity and best-candidate purity after meson
#: reconstruction [P], with the absolute tolerance the tune uses
PAPER_CANDIDATES = {"multiple_candidate_fraction": (0.25, 0.05), "correct_candidate_fraction": (0.85, 0.05)}


def get_key(cfg: dict, dotted: str):
    """Value at the dotted path ``dotted`` of ``cfg`` (KeyError naming the path)."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"config has no key {dotted!r}")
        node = node[part]
    return node


def set_key(cfg: dict, dotted: str, value) -> dict:
    """A deep copy of ``cfg`` with the tunable key ``dotted`` set to ``value``."""
    if dotted not in TUNABLE:
        raise KeyError(f"{dotted!r} is not tunable; tunable keys: {sorted(TUNABLE)}")
    get_key(cfg, dotted)
    out = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[last] = value
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


def evaluate(cfg: dict, mode: str, truth: list, seed: int) -> dict:
    """Signal observables for the detector of ``cfg`` at each mass of ``truth``: σ_R (MeV)
    after and before the kinematic fit, the preselection efficiency, the fraction of
    events with several candidates and of best candidates that are the true photon pair.
    The reconstruction random numbers depend only on ``seed`` and the mass index."""
    beam = cfg["beam"]
    beta = cm_boost_vector(beam["e_her_gev"], beam["e_ler_gev"], beam["crossing_angle_mrad"])
    b = {"sqrt_s": beam["sqrt_s_gev"], "beta_cm": beta}
    half = cfg["fidelity"]["fit_half_width_sigmas"]
    keys = ("sigma_r_mev", "sigma_r_before_fit_mev", "efficiency_reco", "multiple_candidate_fraction",
            "correct_candidate_fraction", "valid")
    res = {k: [] for k in ("m_a_gev",) + keys}
    for i, (m_a, ev) in enumerate(truth):
        rng = np.random.default_rng([seed, 1000 + i])
        out, _ = reconstruct(rng, ev, mode, b, cfg["detector"], cfg["preselection"])
        after = fit_signal_peak(np.asarray(out["m_gg"]), m_a, half)
        before = fit_signal_peak(np.asarray(out["m_gg_raw"]), m_a, half)
        res["m_a_gev"].append(m_a)
        res["sigma_r_mev"].append(1e3 * after["sigma_r"])
        res["sigma_r_before_fit_mev"].append(1e3 * before["sigma_r"])
        res["efficiency_reco"].append(len(out["m_gg"]) / ev.n)
        res["multiple_candidate_fraction"].append(float(np.mean(out["n_cand"] > 1)))
        res["correct_candidate_fraction"].append(float(np.mean(out["truth_match"])))
        res["valid"].append(bool(after["valid"] and before["valid"]))
    return res


def stage_targets(kind: str, cfg: dict, result: dict, mode: str, tolerance: float | None) -> list[dict]:
    """Targets of one tune stage from an :func:`evaluate` result: ``sigma_r`` (σ_R after
    the fit at each fidelity mass, relative ``tolerance``) or ``candidates`` (the
    paper's multiple-candidate fraction and best-candidate purity, mean over masses)."""
    if kind == "sigma_r":
        return [{"name": f"sigma_R {mode} {m:g} GeV", "unit": "MeV", "group": "sigma_R",
                 **target_status(v, p, tolerance, relative=True)}
                for m, v, p in zip(result["m_a_gev"], result["sigma_r_mev"], cfg["fidelity"]["paper_sigma_r_mev"])]
    if kind == "candidates":
        return [{"name": key.replace("_", " "), "unit": "", "group": "candidates",
                 **target_status(float(np.mean(result[key])), paper, tol, relative=False)}
                for key, (paper, tol) in PAPER_CANDIDATES.items()]
    raise ValueError(f"unknown tune target kind {kind!r} (sigma_r, candidates)")


def objective(targets: list[dict]) -> float:
    """Σ (difference / tolerance)²: 1 per target at the edge of its tolerance."""
    return float(sum((t["difference"] / t["tolerance"]) ** 2 for t in targets))


def run_stage(cfg: dict, stage: dict, tune: dict, truth: list) -> tuple[pd.DataFrame, dict, dict]:
    """Evaluate the grid of one stage on ``truth``; returns (table, chosen values, the
    config with them)."""
    mode, seed = tune["mode"], int(tune["seed"])
    names = list(stage["parameters"])
    for name in names:
        set_key(cfg, name, get_key(cfg, name))  # validates the key
    rows = []
    for values in itertools.product(*(stage["parameters"][k] for k in names)):
        c = cfg
        for k, v in zip(names, values):
            c = set_key(c, k, float(v))
        r = evaluate(c, mode, truth, seed)
        t = stage_targets(stage["targets"], cfg, r, mode, stage.get("tolerance"))
        row = {"stage": stage["name"], **dict(zip(names, map(float, values)))}
        for i, m in enumerate(r["m_a_gev"]):
            for key in ("sigma_r_mev", "sigma_r_before_fit_mev", "efficiency_reco", "multiple_candidate_fraction",
                        "correct_candidate_fraction"):
                row[f"{key}@{m:g}"] = r[key][i]
        row["all_fits_valid"] = all(r["valid"])
        row["objective"] = objective(t)
        rows.append(row)
    table = pd.DataFrame(rows)
    valid = table[table["all_fits_valid"]]
    if valid.empty:
        raise RuntimeError(f"tune stage {stage['name']!r}: no grid point has valid DSCB fits at every mass")
    best = valid.loc[valid["objective"].idxmin()]
    chosen = {k: float(best[k]) for k in names}
    for k, v in chosen.items():
        cfg = set_key(cfg, k, v)
    return table, chosen, cfg


def run_tune(cfg: dict, tune: dict) -> tuple[pd.DataFrame, dict]:
    """Run the stages of ``tune`` in order (each starts from the values the previous
    ones chose); returns (objective table of every stage, chosen)."""
    mode, seed = tune["mode"], int(tune["seed"])
    truth = simulate_signal(cfg, mode, cfg["fidelity"]["masses_gev"], int(tune["n_events_per_mass"]), seed)
    before = evaluate(cfg, mode, truth, seed)
    tables, values, before_values, tuned = [], {}, {}, cfg
    for stage in tune["stages"]:
        for k in stage["parameters"]:
            before_values[k] = float(get_key(cfg, k))
        table, chosen, tuned = run_stage(tuned, stage, tune, truth)
        tables.append(table)
        values.update(chosen)
    after = evaluate(tuned, mode, truth, seed)
    targets_after, targets_before = [], []
    for stage in tune["stages"]:
        targets_after += stage_targets(stage["targets"], cfg, after, mode, stage.get("tolerance"))
        targets_before += stage_targets(stage["targets"], cfg, before, mode, stage.get("tolerance"))
    for t, b in zip(targets_after, targets_before):
        t["before"] = b["value"]
    chosen = {
        "mode": mode,
        "n_events_per_mass": int(tune["n_events_per_mass"]),
        "seed": seed,
        "values": values,
        "before_values": before_values,
        "objective": objective(targets_after),
        "objective_before": objective(targets_before),
        "targets": targets_after,
        "after": after,
        "before": before,
    }
    return pd.concat(tables, ignore_index=True), chosen


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def write_config_values(path: Path, values: dict, note: str) -> None:
    """Replace the values of the block-style YAML keys ``values`` (dotted paths) in the
    file ``path`` in place, keeping every other line and comment, and append
    ``(tuned: note)`` to their comment."""
    lines = Path(path).read_text().splitlines(keepends=True)
    for dotted, value in values.items():
        start, end, indent = 0, len(lines), -1
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            hit = None
            for i in range(start, end):
                line = lines[i]
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if _indent(line) <= indent:
                    end = i
                    break
                if re.match(rf"^\s*{re.escape(part)}:(\s|$)", line) and _indent(line) > indent:
                    hit = i
                    break
            if hit is None:
                raise KeyError(f"{path}: no block-style line for {dotted!r}")
            if depth < len(parts) - 1:
                start, indent = hit + 1, _indent(lines[hit])
                end = len(lines)
        m = re.match(rf"^(\s*{re.escape(parts[-1])}:\s*)([^#\s]+)(\s*)(#.*)?$", lines[hit].rstrip("\n"))
        if m is None:
            raise KeyError(f"{path}: {dotted!r} is not a scalar line")
        comment = re.sub(r"\s*\(tuned:[^)]*\)", "", m.group(4) or "#").rstrip()
        lines[hit] = f"{m.group(1)}{value:g}{m.group(3) or '  '}{comment} (tuned: {note})\n"
    Path(path).write_text("".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Tune the toy's [T] detector parameters to Belle's published performance.")
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
        print(f"  {t['name']}: {t['before']:.3g} -> {t['value']:.3g} {t['unit']} (paper {t['paper']:g}, "
              f"{'pass' if t['pass'] else 'FAIL'})")
    if args.write_config:
        write_config_values(Path(args.config), chosen["values"], f"python -m alpscan.tune --tune {args.tune}")
        print(f"wrote {sorted(chosen['values'])} to {args.config}")
    print(f"saved {out / 'objective.csv'}, chosen.json and tune.png")


if __name__ == "__main__":
    main()
