"""Rule script of ``merge_scan``: all chunks of a mode, and the global significance."""

import json

from alpscan.fitting.scan import read_chunks
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.stats.look_elsewhere import scan_global_significance
from alpscan.summary import n_failed_fits

log = setup_script_logging(snakemake.log[0])  # noqa: F821
par = snakemake.params  # noqa: F821
curves, summary = [], {"modes": {}}
for mode, out, points in zip(par.modes, snakemake.output.scans, snakemake.input.points):  # noqa: F821
    chunks = [p for p in snakemake.input.chunks if f"/{mode}/" in p]  # noqa: F821
    # every chunk must hold exactly its scan points (fails naming the file otherwise)
    table = read_chunks(chunks, read_parquet(points)["m_a"].to_numpy()).sort_values("m_a")
    write_parquet(table.reset_index(drop=True), out, {"mode": mode})
    ok = table[table["fit_ok"]]
    curves.append(ok["significance"].to_numpy())
    best = ok.loc[ok["significance"].idxmax()] if len(ok) else None
    summary["modes"][mode] = {
        "n_points": int(len(table)), "n_failed_fits": n_failed_fits(table),
        "max_local_significance": None if best is None else float(best["significance"]),
        "m_a_at_max_gev": None if best is None else float(best["m_a"]),
    }
summary["global"] = scan_global_significance(curves, z_ref=par.z_ref)
with open(snakemake.output.significance, "w") as f:  # noqa: F821
    json.dump(summary, f, indent=2)
log.info("%s", summary)
