"""Results do not depend on the state of the numba cache (issue 20).

A scan chunk and a toy chunk are computed in a fresh process with an empty numba
cache (every kernel compiled in that process), then again in a fresh process that loads
every kernel from the cache the first one filled; the two parquet files must be
byte-identical.  With reassociating fast-math flags in the batched fitter's event loops
the toy fits differed in the last bits between the two.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A toy chunk and a scan chunk on synthetic data: windows of several widths, with and
#: without peaking components (one of them constrained), as in the workflow.
CHUNK_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    from alpscan.fitting.window_model import PeakingComponent, WindowModel, YieldConstraint
    from alpscan.fitting.dscb import DSCBParams
    from alpscan.fitting.scan import fit_points
    from alpscan.fitting.signal_model import interpolate_signal_model
    from alpscan.fitting.toys import fit_dataset, sample_toys, toy_study
    from alpscan.io import write_parquet
    from alpscan.stats.limit_tables import toy_table
    from tests.test_scan import linear_table

    # a toy chunk and a scan chunk as the workflow computes them
    model = interpolate_signal_model(linear_table(np.linspace(0.16, 4.5, 40)))
    rng = np.random.default_rng(20)
    m_data = np.concatenate([
        0.1 + rng.exponential(1.5, 60000),
        rng.normal(0.548, 0.013, 1500),   # eta peak
        rng.normal(2.984, 0.02, 300),     # eta_c peak
    ])
    m_data = m_data[(m_data > 0.1) & (m_data < 4.6)]
    peaking = {
        "eta": (DSCBParams(0.548, 0.013, 0.011, 1.1, 4.0, 1.8, 6.0), 1500.0, None),
        "etac": (DSCBParams(2.984, 0.020, 0.018, 1.1, 4.0, 1.8, 6.0), 300.0, 75.0),
    }
    points = np.array([0.30, 0.45, 0.60, 1.1, 2.2, 2.9, 3.0, 4.3])
    toys = toy_table(m_data, points, model, peaking, window_width_factor=9.0, n_toys=300,
                     seed=7, mode="Kp", progress=False)
    write_parquet(toys, sys.argv[1] + "_toys.parquet", {"mode": "Kp", "chunk": 0})
    fits = fit_points(m_data, None, points, model, peaking, window_width_factor=9.0)
    fits = fits.drop(columns=[c for c in ("components", "message") if c in fits.columns])
    write_parquet(fits, sys.argv[1] + "_scan.parquet", {"mode": "Kp", "chunk": 0})

    # toy studies of windows of many widths and yields, with peaking components
    # (floating and constrained): the case that exposed the cache dependence
    rng0 = np.random.default_rng(5)
    rows = []
    for i, mu in enumerate(np.linspace(0.3, 4.0, 12)):
        s = 0.004 + 0.004 * mu
        half = 4.5 * 2.1 * s
        peak, cons = (), ()
        if i % 3 == 0:
            peak = (PeakingComponent("eta", DSCBParams(mu - 0.5 * half, s, s, 1.1, 4.0, 1.8, 6.0)),)
        if i % 3 == 1:
            peak = (PeakingComponent("etac", DSCBParams(mu + 0.4 * half, s, s, 1.1, 4.0, 1.8, 6.0)),)
            cons = (YieldConstraint("etac", 40.0, 8.0),)
        wm = WindowModel(mu - half, mu + half, DSCBParams(mu, 1.1 * s, s, 1.2, 4.0, 1.6, 6.0), peak, cons)
        theta = wm.from_public([5.0, 200.0 + 300 * i, -0.2, 0.05] + [40.0] * len(peak))
        x, _ = sample_toys(rng0, wm, theta, 1)
        free, _ = fit_dataset(wm, x)
        st = toy_study(np.random.default_rng(i), wm, free.theta[0], 400)
        rows.append(pd.DataFrame({"window": i, "n_fit": st.n_fit, "n_fit_err": st.n_fit_err}))
    write_parquet(pd.concat(rows, ignore_index=True), sys.argv[1] + "_windows.parquet", {})
    """
)


def _run_chunk(out: Path, cache: Path) -> None:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": path}
    env.pop("NUMBA_DISABLE_JIT", None)
    subprocess.run([sys.executable, "-c", CHUNK_SCRIPT, str(out)], check=True, env=env, cwd=ROOT)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_chunk_bytes_independent_of_numba_cache(tmp_path):
    cache = tmp_path / "numba_cache"
    _run_chunk(tmp_path / "cold", cache)  # empty cache: every kernel compiled here
    assert any(cache.rglob("*.nbc")), "the first run did not fill the numba cache"
    _run_chunk(tmp_path / "warm", cache)  # every kernel loaded from the cache
    for kind in ("toys", "scan", "windows"):
        cold, warm = tmp_path / f"cold_{kind}.parquet", tmp_path / f"warm_{kind}.parquet"
        assert _sha(cold) == _sha(warm), f"{kind} chunk differs between a cold and a warm numba cache"
