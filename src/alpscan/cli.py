"""Command-line entry point ``alpscan`` (``[project.scripts]``).

``alpscan recast MODEL``
    Excluded region of an ALP model from the published likelihoods of a run's HEPData
    record (default ``results/hepdata``): a CSV and a figure under ``--out``.  MODEL is a
    shipped model (``w-coupled``, ``photophilic``) or the path of a model file (see
    :mod:`alpscan.reuse.recast`).
``alpscan summary``
    The headline numbers of a finished run (``results/summary.json``).

Errors (a missing run, a malformed model, an unknown mode) are one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "format_summary"]


class CLIError(Exception):
    """An error reported as one line, exit status 2."""


def _recast(args) -> int:
    from alpscan.plotting.reuse import plot_recast
    from alpscan.plotting.style import save
    from alpscan.reuse.recast import BUILTIN_MODELS, load_likelihood, load_model, recast

    model = load_model(args.model)
    modes = None if args.modes is None else [m.strip() for m in args.modes.split(",") if m.strip()]
    lik = load_likelihood(args.record, modes)
    result = recast(lik, model)
    stem = args.model if args.model in BUILTIN_MODELS else Path(args.model).stem
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"{stem}.csv"
    scan = getattr(model, "SCAN", None)
    poi = model.POI
    named = result.rename(columns={c: c.replace("poi", poi["name"]) for c in result.columns})
    if scan is not None:
        named = named.rename(columns={"scan": scan["name"]})
    named.to_csv(csv, index=False, float_format="%.6e")
    save(plot_recast(result, poi_label=poi["label"],
                     scan_label=None if scan is None else scan["label"], title=model.NAME),
         out / f"{stem}.png")  # fmt: skip
    ok = result[np.isfinite(result["poi_ul_obs"])]
    print(f"{model.NAME}: {len(ok)} of {len(result)} points with a limit, modes "
          f"{', '.join(lik.modes)}, {100 * lik.cl:g}% CL")
    if not ok.empty:
        print(f"  observed limit on {poi['name']}: {ok['poi_ul_obs'].min():.3g} .. "
              f"{ok['poi_ul_obs'].max():.3g} {poi['units']}")
    if poi["name"] == "g_aW" and scan is None:
        ref = lik.gaw.set_index("m_a")["gaw_ul_obs"]
        both = ok.set_index("m_a")["poi_ul_obs"].align(ref, join="inner")
        if len(both[0]):
            rel = np.abs(both[0] / both[1] - 1.0)
            print(f"  vs the record's g_aW table: max |rel. diff| {rel.max():.2e} at "
                  f"{len(rel)} masses")
    print(f"  wrote {csv} and {out / f'{stem}.png'}")
    return 0


def format_summary(summary: dict) -> str:
    """Terminal text of the headline numbers of ``results/summary.json``."""
    run, scan, limits = summary["run"], summary["scan"], summary["limits"]
    cl = 100 * float(run["cl"])
    lines = [
        f"alpscan {run.get('alpscan_version', '?')} run, seed {run['seed']}: modes "
        f"{', '.join(run['modes'])}; {run['luminosity_on_fb']:g} fb^-1 on resonance, "
        f"{run['luminosity_off_fb']:g} fb^-1 off; N_BB = {run['n_bb_pairs']:.3g}",
        "(toy simulation, not Belle data)",
    ]
    best = scan["largest_local_excess"]
    if best.get("mode") is not None:
        lines.append(f"largest local excess: {best['local_significance']:.2f} sigma in "
                     f"{best['mode']} at m_a = {best['m_a_gev']:.4f} GeV")
    glob = scan.get("global") or {}
    if glob.get("z_global") is not None:
        lines.append(f"global significance (look-elsewhere effect): {glob['z_global']:.2f} sigma "
                     f"(p = {glob['p_global']:.3g})")
    lines.append(f"{cl:g}% CL upper limits on B(B -> K(*) a) B(a -> gamma gamma), observed:")
    for mode, entry in limits["branching_fraction"].items():
        lines.append(f"  {mode:5s} {_range(entry)}")
    lines.append(f"{cl:g}% CL upper limit on g_aW [GeV^-1], observed: {_range(limits['gaw'])}")
    for mode, c in (summary.get("control_modes") or {}).items():
        if isinstance(c, dict) and "branching_fraction" in c:
            lines.append(f"control B(B -> K eta) {mode}: {c['branching_fraction']:.3g} +- "
                         f"{c['error']:.2g} (input {c['input']:.3g}, pull {c['pull']:+.2f})")
    return "\n".join(lines)


def _range(entry: dict) -> str:
    """``min .. max`` of the observed limits and the range of the expected medians."""
    lo, hi = entry.get("obs_min"), entry.get("obs_max")
    if lo is None or hi is None:
        return "no limits"
    text = f"{lo:.3g} .. {hi:.3g} ({entry.get('n_valid', '?')} points)"
    e_lo, e_hi = entry.get("exp_median_min"), entry.get("exp_median_max")
    if e_lo is not None and e_hi is not None:
        text += f"; expected median {e_lo:.3g} .. {e_hi:.3g}"
    return text


def _summary(args) -> int:
    path = Path(args.run) / "summary.json"
    if not path.is_file():
        raise CLIError(f"no finished run at {args.run} ({path} is missing); run the workflow "
                       "first (snakemake --cores N) or pass --run DIR")
    try:
        summary = json.loads(path.read_text())
        text = format_summary(summary)
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CLIError(f"{path} is not an alpscan summary ({type(err).__name__}: {err})") from err
    print(text)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alpscan", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("recast", help="excluded region of an ALP model from the published "
                                        "likelihoods")  # fmt: skip
    rec.add_argument("model", help="w-coupled, photophilic, or a model .py file")
    rec.add_argument("--record", default="results/hepdata", help="HEPData record directory "
                     "(default: results/hepdata)")  # fmt: skip
    rec.add_argument("--modes", default=None, help="comma-separated modes (default: all)")
    rec.add_argument("--out", default="results/recast", help="output directory "
                     "(default: results/recast)")  # fmt: skip
    rec.set_defaults(func=_recast)
    summ = sub.add_parser("summary", help="headline numbers of a finished run")
    summ.add_argument("--run", default="results", help="results directory (default: results)")
    summ.set_defaults(func=_summary)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    from alpscan.reuse.recast import ModelError, RecordError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, ModelError, RecordError) as err:
        print(f"alpscan {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
