"""Mutation check of the library's core formulas: does a deliberately wrong line fail a test?

Each mutation below is a small edit of one formula (a reversed boost, swapped resolutions,
a changed form factor, a dropped factor 2, ...).  For each, the script copies ``src/`` to
a temporary directory, applies the edit there (the working tree is never touched), runs
the tests meant to catch it with that copy first on ``PYTHONPATH`` and prints whether
the mutation was caught (the tests failed).  It first checks that the same tests pass on
the unmodified copy, so a "caught" is never a broken test.

Usage::

    python benchmarks/mutation_check.py            # every mutation
    python benchmarks/mutation_check.py --skip-slow  # without the numba-cache one (~5 min)
    python benchmarks/mutation_check.py -k boost     # mutations whose name contains "boost"

Exit status 0 when every mutation run was caught.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to src/alpscan
    edits: tuple[tuple[str, str], ...]  # (exact old text, new text), each must occur once
    tests: tuple[str, ...]  # pytest arguments
    slow: bool = False


MUTATIONS = (
    Mutation("boost direction reversed (cm_to_lab / lab_to_cm)", "generation/detector.py",
             (('    """Boost c.m.-frame four-vectors into the lab frame."""\n    return boost(p4, beta_cm)',
               '    """Boost c.m.-frame four-vectors into the lab frame."""\n    return boost(p4, -np.asarray(beta_cm))'),
              ('    return boost(p4, -np.asarray(beta_cm))\n\n\ndef polar_angle_deg',
               '    return boost(p4, beta_cm)\n\n\ndef polar_angle_deg')),
             ("tests/test_generation.py", "-k", "frame_directions or boost")),
    Mutation("kinematic fit: sigma_theta and sigma_phi swapped", "physics/kinfit.py",
             (("(g.theta, g.sigma_theta), (g.phi, g.sigma_phi)", "(g.theta, g.sigma_phi), (g.phi, g.sigma_theta)"),),
             ("tests/test_kinfit.py", "-k", "different_theta")),
    Mutation("B->K* form factor A0 x 1.15", "physics/alp.py",
             (("_A0_R1, _A0_R2, _A0_POLE2 = 1.364, -0.990, 36.78",
               "_A0_R1, _A0_R2, _A0_POLE2 = 1.15 * 1.364, 1.15 * -0.990, 36.78"),),
             ("tests/test_alp.py", "-k", "by_hand or reference_points")),
    Mutation("B->K form factor f0 pole 37.46 -> 30 GeV^2", "physics/alp.py",
             (("_F0_NORM, _F0_POLE = 0.330, 37.46", "_F0_NORM, _F0_POLE = 0.330, 30.0"),),
             ("tests/test_alp.py", "-k", "by_hand or reference_points")),
    Mutation("window fit: off-diagonal terms of the public covariance dropped", "fitting/window_fit.py",
             (("        cov = jac @ np.array(mi.covariance, dtype=float)[np.ix_(idx, idx)] @ jac.T\n",
               "        cov = np.diag(np.diag(jac @ np.array(mi.covariance, dtype=float)[np.ix_(idx, idx)] @ jac.T))\n"),),
             ("tests/test_window_fit.py", "-k", "inverse_hessian or degenerate")),
    Mutation("DSCB: n_l and n_r swapped", "fitting/dscb.py",
             (("        float(alpha_l),\n        float(n_l),", "        float(alpha_l),\n        float(n_r),"),
              ("        float(alpha_r),\n        float(n_r),", "        float(alpha_r),\n        float(n_l),")),
             ("tests/test_dscb.py", "-k", "tails_by_hand")),
    Mutation("BR limit: k = N_BB f eps (factor 2 dropped)", "stats/limit_tables.py",
             (("        k = 2.0 * n_bb * f_b * eff\n", "        k = n_bb * f_b * eff\n"),),
             ("tests/test_conversion.py", "-k", "branching")),
    Mutation("g_aW limit: 2 N_BB f eps -> N_BB f eps", "stats/limit_tables.py",
             (("c_mode = 2.0 * n_bb * b_fraction(mode, physics)", "c_mode = n_bb * b_fraction(mode, physics)"),),
             ("tests/test_conversion.py", "-k", "gaw")),
    Mutation("g_aW limit: c tau at a fixed coupling (not self-consistent)", "stats/limit_tables.py",
             (("ctau = ctau_a_mm(m_a, np.where(g > 0, g, 1e-300))", "ctau = ctau_a_mm(m_a, np.full_like(g, 1e-5))"),),
             ("tests/test_conversion.py", "-k", "gaw")),
    Mutation("chunk merge: point count not checked", "fitting/scan.py",
             (("        if got.size != want.size:\n", "        if False:\n"),
              ("        if not np.array_equal(got, want):\n", "        if False:\n")),
             ("tests/test_chunks.py",)),
    Mutation("config: scan start/stop order not checked", "configuration.py",
             (('        if not scan["m_start_gev"] < scan[stop_key]:\n', "        if False:\n"),),
             ("tests/test_config.py", "-k", "relations")),
    Mutation("batched fitter: reassociating fast-math (cache-dependent bits)", "fitting/batched.py",
             (('_FASTMATH = {"contract", "nsz"}', '_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}'),),
             ("tests/test_determinism.py",), slow=True),
)


def _copy_library(dest: Path) -> Path:
    src = dest / "src"
    shutil.copytree(ROOT / "src" / "alpscan", src / "alpscan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return src


def _apply(src: Path, mutation: Mutation) -> None:
    path = src / "alpscan" / mutation.path
    text = path.read_text()
    for old, new in mutation.edits:
        if text.count(old) != 1:
            raise SystemExit(f"mutation {mutation.name!r}: the text to replace occurs {text.count(old)} times "
                             f"in {mutation.path} (the library changed: update benchmarks/mutation_check.py)")
        text = text.replace(old, new)
    path.write_text(text)


def _run_tests(src: Path, tests: tuple[str, ...], cache: Path) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
           "NUMBA_CACHE_DIR": str(cache)}
    check = subprocess.run([sys.executable, "-c", "import alpscan, sys; sys.stdout.write(alpscan.__file__)"],
                           env=env, capture_output=True, text=True, cwd=ROOT)
    if not check.stdout.startswith(str(src)):
        raise SystemExit(f"the library copy is not the one imported ({check.stdout!r}); is alpscan installed "
                         "non-editable with a .pth path before PYTHONPATH?")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return proc.returncode, time.perf_counter() - t0, lines[-1] if lines else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-slow", action="store_true", help="leave out the numba-cache mutation")
    parser.add_argument("-k", default="", help="only mutations whose name contains this text")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.k.lower() in m.name.lower() and not (args.skip_slow and m.slow)]
    with tempfile.TemporaryDirectory(prefix="alpscan-mutation-") as tmp:
        tmp = Path(tmp)
        clean = _copy_library(tmp / "clean")
        for tests in dict.fromkeys(m.tests for m in chosen):
            rc, dt, last = _run_tests(clean, tests, tmp / "cache-clean")
            if rc != 0:
                print(f"the tests {' '.join(tests)} fail WITHOUT a mutation ({last}); fix them first")
                return 2
        rows = []
        for i, m in enumerate(chosen):
            src = _copy_library(tmp / f"m{i}")
            _apply(src, m)
            rc, dt, last = _run_tests(src, m.tests, tmp / f"cache-m{i}")
            rows.append((m.name, "caught" if rc == 1 else ("NOT caught" if rc == 0 else f"error rc={rc}"),
                         " ".join(m.tests), f"{dt:.0f} s", last))
            shutil.rmtree(src.parent, ignore_errors=True)
        width = max(len(r[0]) for r in rows)
        print(f"{'mutation':<{width}}  result      tests (time): last pytest line")
        for name, res, tests, dt, last in rows:
            print(f"{name:<{width}}  {res:<10}  {tests} ({dt}): {last}")
        n_caught = sum(r[1] == "caught" for r in rows)
        print(f"{n_caught} of {len(rows)} mutations caught")
        return 0 if n_caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
