"""Rule script of ``figure_gaw``: Fig. 4 (g_aW limit with bands) and Fig. 5 (vs BaBar, each curve labelled with its lifetime assumption)."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.physics.constants import mass_gev
from alpscan.plotting.paper import (
    babar_gaw_curve,
    plot_gaw_comparison,
    plot_gaw_limit,
    prompt_gaw_curve,
    veto_windows,
)
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
gaw = read_parquet(inp.gaw)
vetoes = veto_windows(par.vetoes, par.m_start)
save(plot_gaw_limit(gaw, vetoes, mass_gev("etac")), out.limit)
prompt = prompt_gaw_curve(read_parquet(inp.prompt[0])) if inp.prompt else None
save(plot_gaw_comparison(gaw, babar_gaw_curve(inp.babar), vetoes=vetoes, prompt_gaw=prompt),
     out.comparison)
