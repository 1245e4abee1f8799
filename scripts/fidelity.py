"""Rule script of ``fidelity``: σ_R of the signal peak and preselection efficiencies."""

import json

from alpscan.validation.fidelity import fidelity_report
from alpscan.io import read_metadata, read_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821
samples = {
    mode: (read_parquet(path, columns=["component", "m_gg", "m_gg_raw"]), read_metadata(path))
    for mode, path in zip(snakemake.params.modes, snakemake.input.signal)  # noqa: F821
}
report = fidelity_report(samples, snakemake.params.fidelity, snakemake.params.subdecay)  # noqa: F821
for mode, entries in report["sigma_r"].items():
    for e in entries:
        if e["available"]:
            log.info("%s m=%.3f GeV: sigma_R = %.2f MeV after the kinematic fit, %.2f MeV before (paper %.1f)",
                     mode, e["m_target_gev"], e["sigma_r_mev"], e["sigma_r_before_fit_mev"], e["paper_sigma_r_mev"])
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(report, f, indent=2)
