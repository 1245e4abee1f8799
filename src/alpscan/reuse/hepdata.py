"""The HEPData record of a run (``results/hepdata/``), written with ``hepdata_lib``, and its reader.

Tables (one YAML data file each, listed in ``submission.yaml``), per mode M of the run:

* ``Branching fraction limits M``: observed, expected and ±1σ/±2σ 90 % CL limits on
  B(B → K(*)a)·B(a → γγ) versus m_a (prompt ALP);
* ``Signal efficiency M``: the window signal efficiency ε (prompt);
* ``Lifetime limits M``: observed and expected limits over (m_a, cτ);
* ``Long-lived ratio M``: the measured ε_LL/ε_prompt at the simulated (m_a, cτ) points,
  ``Long-lived ratio fit M``: the fitted r(cτ) = [1 + (cτ/c₀)^p]^(−q) per mass;
* ``Likelihood points M``, ``Profile likelihood observed M``, ``Profile likelihood Asimov M``:
  the published likelihood (below);

and ``g_aW limits``: the combined limit on g_aW with its bands.

The published likelihood
------------------------
For every valid scan point the profiled −ln L of the fit window versus the fitted signal
yield N (events), relative to its minimum, for the pseudo-data and for the background-only
Asimov data set, tabulated on a grid (interpolate with a monotone cubic, extrapolate
linearly).  ``Likelihood points M`` gives per point the best-fit yield N̂, the toy-MC bias b
of the fitted yield (events), k = 2 N_BB̄ f ε (events per unit branching fraction), ε and the
mass resolution σ_R (GeV).  A model predicting branching fractions B_M and long-lived ratios
r_M has (spec §9)::

    −ln L = min_θ Σ_M ℓ_M(k_M B_M r_M θ + b_M) + (θ − 1)² / (2 σ_ε²)

with ℓ_M the observed curve of the point nearest to m_a (within σ_R) and σ_ε the relative
efficiency uncertainty (qualifier ``efficiency uncertainty (relative)``); CLs limits use
the Asimov curves for the expected distribution.  ``alpscan recast`` does exactly this.

Every table description says the numbers come from the alpscan toy simulation, not Belle
data.  Values are written with :data:`DIGITS` significant digits (m_a and σ_R exactly).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "TOY_NOTE",
    "DIGITS",
    "MODE_REACTIONS",
    "HEADERS",
    "write_record",
    "read_record",
    "record_table",
    "validate_record",
]

#: Sentence closing every table description.
TOY_NOTE = ("From the alpscan toy simulation of the Belle detector and its pseudo-data "
            "(an open reproduction of arXiv:2507.01249), not Belle data.")
#: Significant digits of every written value; masses and resolutions get all 17 of a double, so
#: that "within σ_R of a scan point" is decided exactly as in the workflow (the scan points are
#: σ_R apart, so a mass halfway between two is a tie).
DIGITS = 10
EXACT_COLUMNS = ("m_a", "sigma_r")
#: Decay of each mode (HEPData reaction notation); the K0 mode is B0 -> K0 a.
MODE_REACTIONS = {"Kp": "B+ --> K+ a", "K0S": "B0 --> K0 a", "Kst0": "B0 --> K*0 a",
                  "Kstp": "B+ --> K*+ a"}  # fmt: skip
#: Header name and units of each column (read back by these names).
HEADERS = {
    "m_a": ("m_a", "GeV"),
    "ctau_mm": ("c tau_a", "mm"),
    "br_ul_obs": ("Observed upper limit on B", ""),
    "br_ul_exp": ("Expected upper limit on B (median)", ""),
    "br_ul_exp_m2": ("Expected upper limit on B (-2 sigma)", ""),
    "br_ul_exp_m1": ("Expected upper limit on B (-1 sigma)", ""),
    "br_ul_exp_p1": ("Expected upper limit on B (+1 sigma)", ""),
    "br_ul_exp_p2": ("Expected upper limit on B (+2 sigma)", ""),
    "gaw_ul_obs": ("Observed upper limit on g_aW", "GeV^-1"),
    "gaw_ul_exp": ("Expected upper limit on g_aW (median)", "GeV^-1"),
    "gaw_ul_exp_m2": ("Expected upper limit on g_aW (-2 sigma)", "GeV^-1"),
    "gaw_ul_exp_m1": ("Expected upper limit on g_aW (-1 sigma)", "GeV^-1"),
    "gaw_ul_exp_p1": ("Expected upper limit on g_aW (+1 sigma)", "GeV^-1"),
    "gaw_ul_exp_p2": ("Expected upper limit on g_aW (+2 sigma)", "GeV^-1"),
    "efficiency": ("Signal efficiency", ""),
    "ratio": ("Long-lived to prompt efficiency ratio r", ""),
    "c0_mm": ("c_0", "mm"),
    "p": ("p", ""),
    "q": ("q", ""),
    "k_events_per_br": ("k = 2 N_BB f efficiency", "events"),
    "bias_events": ("Fit bias b", "events"),
    "sigma_r": ("sigma_R", "GeV"),
    "obs_n_hat": ("Best-fit yield (observed)", "events"),
    "asimov_n_hat": ("Best-fit yield (Asimov)", "events"),
    "n_sig": ("Signal yield N", "events"),
    "dnll": ("-Delta ln L", ""),
}
BR_COLUMNS = ("br_ul_obs", "br_ul_exp", "br_ul_exp_m2", "br_ul_exp_m1", "br_ul_exp_p1",
              "br_ul_exp_p2")  # fmt: skip
GAW_COLUMNS = tuple(c.replace("br_", "gaw_") for c in BR_COLUMNS)
POINT_COLUMNS = ("efficiency", "k_events_per_br", "bias_events", "sigma_r", "obs_n_hat",
                 "asimov_n_hat")  # fmt: skip
SIGMA_EFF_QUALIFIER = "efficiency uncertainty (relative)"
KEYWORDS = {
    "cmenergies": [10.58],
    "observables": ["UL"],
    "phrases": ["Axion-like particle", "Upper limit", "Rare B decay", "Long-lived particle"],
}


def _variable(column: str, values, *, independent: bool, qualifiers: Mapping | None = None):
    from hepdata_lib import Variable

    name, units = HEADERS[column]
    var = Variable(name, is_independent=independent, is_binned=False, units=units)
    var.digits = 17 if column in EXACT_COLUMNS else DIGITS
    var.values = np.asarray(values, dtype=float)
    for key, value in (qualifiers or {}).items():
        var.add_qualifier(key, value)
    return var


def _table(name: str, description: str, frame: pd.DataFrame, independent: Sequence[str],
           dependent: Sequence[str], qualifiers: Mapping, reactions: Sequence[str]):  # fmt: skip
    """One hepdata_lib Table; rows with a non-finite value in any column are left out."""
    from hepdata_lib import Table

    cols = [*independent, *dependent]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"table {name!r}: input lacks column(s) {missing}")
    values = frame[cols].to_numpy(dtype=float)
    keep = np.all(np.isfinite(values), axis=1)
    table = Table(name)
    table.description = f"{description} {TOY_NOTE}"
    table.keywords.update({"reactions": list(reactions), **KEYWORDS})
    for j, col in enumerate(cols):
        is_indep = col in independent
        table.add_variable(_variable(col, values[keep, j], independent=is_indep,
                                     qualifiers=None if is_indep else qualifiers))  # fmt: skip
    return table


def _long(profiles: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Profile curves of the valid points as rows (m_a, n_sig, dnll = nll − nll_hat)."""
    ok = profiles[profiles["ok"].astype(bool)]
    grids = [np.asarray(g, dtype=float) for g in ok[f"{prefix}_grid"]]
    nlls = [np.asarray(v, dtype=float) for v in ok[f"{prefix}_nll"]]
    if not grids:
        return pd.DataFrame(columns=["m_a", "n_sig", "dnll"], dtype=float)
    return pd.DataFrame({
        "m_a": np.repeat(ok["m_a"].to_numpy(float), [g.size for g in grids]),
        "n_sig": np.concatenate(grids),
        "dnll": np.concatenate([v - h for v, h in zip(nlls, ok[f"{prefix}_nll_hat"])]),
    })  # fmt: skip


def write_record(outdir, *, modes: Sequence[str], scans: Mapping[str, pd.DataFrame],
                 profiles: Mapping[str, pd.DataFrame], ctau_limits: Mapping[str, pd.DataFrame],
                 longlived_points: Mapping[str, pd.DataFrame],
                 longlived_fits: Mapping[str, pd.DataFrame], gaw: pd.DataFrame, cl: float,
                 sigma_eff: float, tarball=None, resources: Sequence = ()) -> Path:  # fmt: skip
    """Write the HEPData submission of a run to ``outdir`` with ``hepdata_lib`` and validate it
    with ``hepdata-validator`` (:func:`validate_record`).

    Parameters
    ----------
    outdir : path
        Output directory (replaced): ``submission.yaml`` and one YAML file per table.
    modes : sequence of str
        Modes of the run (``Kp``, ``K0S``, ``Kst0``, ``Kstp``).
    scans, profiles, ctau_limits, longlived_points, longlived_fits : mapping mode → DataFrame
        ``results/scan/{M}.parquet``, ``results/limits/{M}_profiles.parquet``,
        ``results/limits/{M}_ctau.parquet``, ``results/signal_model/{M}_longlived_points``
        and ``..._longlived.parquet``.
    gaw : pandas.DataFrame
        ``results/limits/gaw.parquet``.
    cl, sigma_eff : float
        Confidence level (0.9) and relative efficiency uncertainty of the likelihood.
    tarball : path, optional
        Where to keep the upload archive ``hepdata_lib`` builds (default: discarded).
    resources : sequence of (path, description)
        Files added to the submission as additional resources (e.g. recast models).

    Returns
    -------
    pathlib.Path
        ``outdir``.

    Raises
    ------
    ValueError
        If the record does not validate (the first validator messages are given).
    """
    from hepdata_lib import Submission

    unknown = [m for m in modes if m not in MODE_REACTIONS]
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}; known: {sorted(MODE_REACTIONS)}")
    outdir = Path(outdir).resolve()
    tarball = None if tarball is None else Path(tarball).resolve()  # before the chdir below
    sub = Submission()
    sub.comment = ("alpscan: open toy reproduction of the Belle search for an axion-like particle "
                   "in B -> K(*) a, a -> gamma gamma (arXiv:2507.01249). " + TOY_NOTE)
    quals = {"CL": f"{100 * cl:g}%", "SQRT(S) [GeV]": 10.58}
    pct = f"{100 * cl:g} %"
    for mode in modes:
        reaction = MODE_REACTIONS[mode]
        rq = {**quals, "RE": f"{reaction}, a --> GAMMA GAMMA"}
        br = ("B = B(B0 -> K0 a) B(a -> gamma gamma) (the K0 -> K0S -> pi+ pi- fractions are in "
              "the efficiency)" if mode == "K0S" else
              f"B = B({reaction.replace(' --> ', ' -> ')}) B(a -> gamma gamma)")
        scan = scans[mode][scans[mode]["fit_ok"].astype(bool)]
        sub.add_table(_table(
            f"Branching fraction limits {mode}",
            f"{pct} CL CLs upper limits on {br} versus the ALP mass for a prompt ALP: observed, "
            "expected median and the +-1 sigma and +-2 sigma expected bands (asymptotic).",
            scan, ["m_a"], BR_COLUMNS, rq, [reaction]))  # fmt: skip
        sub.add_table(_table(
            f"Signal efficiency {mode}",
            f"Signal efficiency of {reaction}, a --> gamma gamma for a prompt ALP in the fit "
            "window of each scan point (selection, sub-decay fractions and the fraction of "
            "the signal shape inside the window).", scan, ["m_a"], ["efficiency"],
            {"RE": rq["RE"]}, [reaction]))  # fmt: skip
        sub.add_table(_table(
            f"Lifetime limits {mode}",
            f"{pct} CL upper limits on {br} over the ALP mass and proper decay length c tau "
            "(0 = prompt): the prompt limit divided by the long-lived efficiency ratio r. "
            "Beyond the largest simulated c tau, r is the fitted form extrapolated.",
            ctau_limits[mode], ["m_a", "ctau_mm"], ["br_ul_obs", "br_ul_exp"], rq, [reaction]))
        sub.add_table(_ratio_table(mode, longlived_points[mode], rq, reaction))
        fits = longlived_fits[mode][longlived_fits[mode]["fit_ok"].astype(bool)]
        sub.add_table(_table(
            f"Long-lived ratio fit {mode}",
            "Fit r(c tau) = [1 + (c tau/c_0)^p]^(-q) of the long-lived efficiency ratio at each "
            "simulated mass; between masses r is interpolated linearly in m_a (constant "
            "outside).", fits, ["m_a"], ["c0_mm", "p", "q"], {"RE": rq["RE"]}, [reaction]))
        prof = profiles[mode]
        points = prof[prof["ok"].astype(bool)]
        lq = {**rq, SIGMA_EFF_QUALIFIER: float(sigma_eff)}
        sub.add_table(_table(
            f"Likelihood points {mode}",
            "Published likelihood, part 1: per scan point the best-fit signal yields of the "
            "pseudo-data and of the background-only Asimov data, the toy-MC fit bias b, k = "
            f"2 N_BB f efficiency (events per unit {br.split(' (')[0]}), the efficiency and the "
            "mass resolution sigma_R. Expected yield N = k B r theta + b with theta a Gaussian "
            f"nuisance (width {sigma_eff:g}) shared by all modes.",
            points, ["m_a"], POINT_COLUMNS, lq, [reaction]))  # fmt: skip
        for prefix, what in (("obs", "observed"), ("asimov", "Asimov")):
            sub.add_table(_table(
                f"Profile likelihood {what} {mode}",
                f"Published likelihood, part 2: profiled -ln L of the fit window of each scan "
                f"point versus the signal yield N, relative to its minimum, for the {what} "
                + ("pseudo-data" if prefix == "obs" else "background-only data set")
                + " (interpolate in N with a monotone cubic, extrapolate linearly).",
                _long(prof, prefix), ["m_a", "n_sig"], ["dnll"], lq, [reaction]))
    reactions = [MODE_REACTIONS[m] for m in modes]
    sub.add_table(_table(
        "g_aW limits",
        f"{pct} CL CLs upper limits on the ALP-W coupling g_aW versus m_a from the modes "
        f"{', '.join(modes)} combined; the efficiency is evaluated at the proper decay length "
        "c tau(m_a, g_aW) of the tested coupling (B(a -> gamma gamma) = 1).",
        gaw, ["m_a"], GAW_COLUMNS, {**quals, "RE": "B --> K(*) a, a --> GAMMA GAMMA"}, reactions))
    for path, description in resources:
        sub.add_additional_resource(description, str(path), copy_file=True)
    if outdir.exists():
        shutil.rmtree(outdir)
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        # hepdata_lib writes its archive in the working directory; validated below
        sub.create_files(str(outdir), validate=False)
        if tarball is not None:
            tarball.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(tmp) / "submission.tar.gz", tarball)
    errors = validate_record(outdir)
    if errors:
        raise ValueError(f"HEPData record {outdir} does not validate: {errors[:5]}")
    return outdir


def _ratio_table(mode: str, points: pd.DataFrame, rq: Mapping, reaction: str):
    """``Long-lived ratio M`` with the binomial error of each point."""
    from hepdata_lib import Uncertainty

    table = _table(
        f"Long-lived ratio {mode}",
        "Measured ratio r of the signal efficiency of an ALP with proper decay length c tau to "
        "that of a prompt ALP of the same mass (binomial errors).",
        points, ["m_a", "ctau_mm"], ["ratio"], {"RE": rq["RE"]}, [reaction])
    good = np.all(np.isfinite(points[["m_a", "ctau_mm", "ratio"]].to_numpy(float)), axis=1)
    unc = Uncertainty("binomial", is_symmetric=True)
    unc.values = points.loc[good, "ratio_err"].to_numpy(float).tolist()
    table.variables[-1].add_uncertainty(unc)
    return table


def validate_record(directory) -> list[str]:
    """Run ``hepdata-validator`` on a submission directory; the error messages (empty if valid)."""
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    validator = FullSubmissionValidator()
    ok = validator.validate(directory=str(directory))
    if ok:
        return []
    return [f"{name}: {m.message}" for name, msgs in validator.get_messages().items()
            for m in msgs]  # fmt: skip


def _submission_entries(directory: Path) -> list[dict]:
    path = directory / "submission.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no HEPData record at {directory} (missing {path.name})")
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=_loader()) if d and "data_file" in d]


def _loader():
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_record(directory) -> dict[str, dict]:
    """Table metadata of a HEPData record: ``{name: {"description", "data_file"}}``."""
    directory = Path(directory)
    return {e["name"]: {"description": e.get("description", ""), "data_file": e["data_file"]}
            for e in _submission_entries(directory)}  # fmt: skip


def record_table(directory, name: str) -> tuple[pd.DataFrame, dict]:
    """One table of a record as a DataFrame (columns named as in :data:`HEADERS`) and the
    qualifiers of its first dependent variable (``{name: value}``).

    Raises
    ------
    KeyError
        If the record has no table ``name`` (the message lists the tables).
    ValueError
        If a header is unknown or the value lists differ in length.
    """
    directory = Path(directory)
    tables = read_record(directory)
    if name not in tables:
        raise KeyError(f"{directory}: no table {name!r}; the record has {sorted(tables)}")
    with (directory / tables[name]["data_file"]).open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=_loader())
    by_header = {v[0]: k for k, v in HEADERS.items()}
    columns, quals = {}, {}
    for var in [*data["independent_variables"], *data["dependent_variables"]]:
        header = var["header"]["name"]
        if header not in by_header:
            raise ValueError(f"{directory / tables[name]['data_file']}: unknown header {header!r}")
        columns[by_header[header]] = np.array([float(v["value"]) for v in var["values"]])
        if not quals and "qualifiers" in var:
            quals = {q["name"]: q["value"] for q in var["qualifiers"]}
    if len({c.size for c in columns.values()}) > 1:
        raise ValueError(f"table {name!r}: value lists differ in length")
    return pd.DataFrame(columns), quals
