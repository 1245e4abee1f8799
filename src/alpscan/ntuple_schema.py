"""The candidate-ntuple schema: every column the analysis stages read from
``results/generation/{mode}/{sample}.parquet`` (one B candidate per row) and from the
photon-pair table ``results/generation/{mode}/{sample}_pairs.parquet``, with its type,
unit and meaning, plus the per-sample metadata.

The toy generator (:mod:`alpscan.generation.run`) writes exactly these columns with
these types (a test checks it), and :mod:`alpscan.ntuples` imports external ntuples
(ROOT through uproot, or parquet) into the same files, so every later stage runs
unchanged.  ``docs/ntuple-schema.md`` is rendered from this module
(``python -m alpscan.ntuple_schema > docs/ntuple-schema.md``; a test keeps them in sync).

Each column has a *requirement*:

* ``always`` — every external sample must provide it;
* ``simulation`` — generator truth: simulated samples must provide it, the data samples
  (``data``, ``offres_data``) may omit it and get the column's ``fill`` value;
* ``derived`` — filled from the sample metadata when the ntuple does not have it
  (``weight``, ``component``, ``uid``, ``ctau_mm``; see :mod:`alpscan.ntuples`);
* ``optional`` — written by the generator but read by no stage; filled with ``fill``.

Everything here is an immutable tuple or a pure function.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    """One column of a candidate or photon-pair table."""

    name: str
    dtype: str  # numpy dtype name written to the parquet file
    unit: str  # "" for dimensionless
    requirement: str  # always | simulation | derived | optional
    fill: object  # value of an omitted simulation/optional column (None: no default)
    description: str


#: Samples that are (pseudo-)data: generator truth is optional for them.
DATA_SAMPLES: tuple[str, ...] = ("data", "offres_data")

#: Allowed values of :attr:`Column.requirement`.
REQUIREMENTS: tuple[str, ...] = ("always", "simulation", "derived", "optional")

_F, _I, _B = "float64", "int64", "bool"
_SHAPE = "continuum suppression (mva)"


def _photon_columns() -> tuple[Column, ...]:
    out = []
    for j in (1, 2):
        out += [
            Column(f"e_gamma{j}_cm", _F, "GeV", "always", None, f"energy of candidate photon {j} in the e+e- c.m. frame"),
            Column(f"e9e21_gamma{j}", _F, "", "always", None, f"E9/E21 cluster-shape ratio of photon {j} (pi0/eta veto)"),
            Column(f"emax_gamma{j}", _F, "GeV", "always", None, f"energy of the most energetic crystal of photon {j}"),
            Column(f"nweight_gamma{j}", _F, "", "always", None, f"sum of crystal weights of photon {j}'s cluster"),
            Column(f"region_gamma{j}", _I, "", "always", None, f"ECL region of photon {j}: 0 forward, 1 barrel, 2 backward"),
            Column(f"parent_gamma{j}", _I, "", "simulation", -1,
                   f"truth: parent code of photon {j} (veto training labels; -1 unknown)"),
        ]
    return tuple(out)


_KSFW = ("ksfw_mm2", "ksfw_et") + tuple(f"ksfw_so_{k}{ell}" for k, ells in (("c", range(5)), ("n", (0, 2, 4)),
                                                                            ("m", (0, 2, 4))) for ell in ells)
_KSFW += tuple(f"ksfw_oo{ell}" for ell in range(5))

#: Columns of the candidate table (one row per event: the best B candidate).
CANDIDATE_COLUMNS: tuple[Column, ...] = (
    Column("event_id", _I, "", "always", None, "event number, unique within the sample; joins the photon-pair table"),
    Column("uid", _I, "", "derived", None,
           "id unique across samples and modes (training/fit split); default (crc32(mode/sample) << 32) + event_id"),
    Column("n_cand", _I, "", "always", None, "number of B candidates of the event before the best-chi2 choice"),
    Column("mbc", _F, "GeV", "always", None, "beam-constrained mass M_bc"),
    Column("delta_e", _F, "GeV", "always", None, "Delta E = E_B* - E_beam*"),
    Column("chi2_kinfit", _F, "", "always", None, "chi2 of the B-mass-constrained kinematic fit"),
    Column("kinfit_ok", _B, "", "always", None, "kinematic fit converged"),
    Column("m_gg", _F, "GeV", "always", None, "diphoton mass M_gg after the B-mass-constrained fit (scanned variable)"),
    Column("m_gg_raw", _F, "GeV", "always", None, "diphoton mass M_gg before the kinematic fit"),
    Column("m_k_system", _F, "GeV", "optional", float("nan"), "mass of the K / K_S / K* system (read by no stage)"),
    Column("truth_match", _B, "", "simulation", False, "truth: both candidate photons are the signal photons"),
    *_photon_columns(),
    Column("cos_hel_a", _F, "", "always", None, "helicity cosine of photon 1 in the a rest frame"),
    Column("cos_hel_b", _F, "", "always", None, "helicity cosine of the a in the B rest frame"),
    Column("gamma_energy_asym", _F, "", "always", None, "|E1 - E2| / (E1 + E2) of the candidate photons (c.m.)"),
    Column("r2", _F, "", "always", None, f"R2 = H2/H0 of all particles, {_SHAPE}"),
    Column("thrust_b", _F, "", "optional", float("nan"), "thrust of the B-candidate particles (read by no stage)"),
    Column("roe_thrust", _F, "", "always", None, f"thrust of the rest of event, {_SHAPE}"),
    Column("cos_thrust_b_roe", _F, "", "always", None, f"|cos| between the B and ROE thrust axes, {_SHAPE}"),
    Column("cos_thrust_b_z", _F, "", "always", None, f"|cos| between the B thrust axis and z, {_SHAPE}"),
    Column("sphericity", _F, "", "always", None, f"sphericity of all particles, {_SHAPE}"),
    Column("aplanarity", _F, "", "always", None, f"aplanarity of all particles, {_SHAPE}"),
    *(Column(f"harmonic_b{ell}", _F, "", "always", None, f"harmonic moment B_{ell} about the B thrust axis, {_SHAPE}")
      for ell in range(5)),
    Column("mflow_forward", _F, "GeV", "always", None, f"momentum flow forward of the B thrust axis, {_SHAPE}"),
    Column("mflow_backward", _F, "GeV", "always", None, f"momentum flow backward of the B thrust axis, {_SHAPE}"),
    *(Column(f"cleo_cone{k}", _F, "GeV", "optional", float("nan"), "CLEO cone momentum flow (read by no stage)")
      for k in range(9)),
    *(Column(name, _F, "GeV^2" if name == "ksfw_mm2" else ("GeV" if name == "ksfw_et" else ""), "always", None,
             f"KSFW moment {name[5:]}, {_SHAPE}") for name in _KSFW),
    Column("weight", _F, "", "derived", None,
           "per-event weight to the analysed luminosity; default from the metadata: "
           "cross_section_pb x luminosity_fb x 1000 / n_generated of the event's component, or 1"),
    Column("component", _I, "", "derived", 0, "index of the event's component in the metadata `components` list"),
    Column("m_a_true", _F, "GeV", "simulation", float("nan"), "truth: generated ALP mass (NaN without an ALP)"),
    Column("flight_mm", _F, "mm", "simulation", 0.0, "truth: ALP flight distance in the lab"),
    Column("ctau_mm", _F, "mm", "derived", 0.0, "proper decay length c tau of the generated ALP; default the component's"),
)

#: Columns of the photon-pair table (one row per candidate photon x other photon of the
#: event), read by the pi0/eta veto.
PAIR_COLUMNS: tuple[Column, ...] = (
    Column("event_id", _I, "", "always", None, "event number of the candidate (joins the candidate table)"),
    Column("a_index", _I, "", "always", None, "which candidate photon (0: photon 1, 1: photon 2) the pair contains"),
    Column("m_pair", _F, "GeV", "always", None, "mass of the candidate photon + partner photon"),
    Column("e_partner", _F, "GeV", "always", None, "lab energy of the partner photon"),
    Column("e_pair", _F, "GeV", "always", None, "lab energy of the pair"),
    Column("cos_open", _F, "", "always", None, "cosine of the opening angle of the pair (lab)"),
    Column("pt_pair", _F, "GeV", "always", None, "transverse momentum of the pair (lab)"),
    Column("e_asym", _F, "", "always", None, "|E_a - E_partner| / E_pair (lab)"),
    Column("e9e21_partner", _F, "", "always", None, "E9/E21 of the partner photon"),
    Column("emax_partner", _F, "GeV", "always", None, "energy of the partner's most energetic crystal"),
    Column("nweight_partner", _F, "", "always", None, "sum of crystal weights of the partner's cluster"),
    Column("region_partner", _I, "", "always", None, "ECL region of the partner photon"),
    Column("same_parent", _B, "", "simulation", False, "truth: both photons come from one pi0/eta"),
    Column("a_parent", _I, "", "simulation", -1, "truth: parent code of the candidate photon"),
    Column("partner_parent", _I, "", "optional", -1, "truth: parent code of the partner photon (read by no stage)"),
)

#: Keys of one entry of a sample's metadata ``components`` list (config ``inputs``).
METADATA_KEYS: tuple[tuple[str, str, str], ...] = (
    ("n_generated", "integer >= 0, required", "events generated (before any selection) in this component; "
     "the denominator of every efficiency"),
    ("cross_section_pb", "number > 0", "cross section of the component (pb); with luminosity_fb gives the weight "
     "sigma x L / n_generated when the ntuple has no weight column"),
    ("luminosity_fb", "number > 0", "luminosity the weights refer to (fb^-1); only together with cross_section_pb"),
    ("m_a_gev", "number > 0", "generated ALP mass (GeV); required for signal_prompt and signal_longlived"),
    ("ctau_mm", "number >= 0", "generated ALP c tau (mm); required for signal_longlived, default 0"),
    ("label", "string", "name of the component (e.g. continuum_uu in a data sample; the off-resonance calibration "
     "uses the continuum_* components of data)"),
)


def columns(table: str) -> tuple[Column, ...]:
    """The columns of ``table`` (``candidates`` or ``pairs``)."""
    if table == "candidates":
        return CANDIDATE_COLUMNS
    if table == "pairs":
        return PAIR_COLUMNS
    raise ValueError(f"unknown table {table!r}; expected 'candidates' or 'pairs'")


def needed(column: Column, sample: str) -> bool:
    """Whether an external ``sample`` must provide ``column`` (no default)."""
    return column.requirement == "always" or (column.requirement == "simulation" and sample not in DATA_SAMPLES)


def classifier_inputs() -> dict[str, list[str]]:
    """Schema column -> the classifiers that take it as an input variable, read from the
    variable lists of :mod:`alpscan.mva` (imported here only, so parsing the workflow does
    not load the MVA code)."""
    from alpscan.mva.features import CS1_VARIABLES, CS2_VARIABLES, XSGAMMA_VARIABLES
    from alpscan.mva.veto import VETO_FEATURES

    veto = {v.replace("_a", "_gamma1") for v in VETO_FEATURES if v.endswith("_a")}
    veto |= {v.replace("_gamma1", "_gamma2") for v in veto} | set(VETO_FEATURES)
    out: dict[str, list[str]] = {}
    for name, variables in (("CS1", CS1_VARIABLES), ("CS2", CS2_VARIABLES), ("Xs-gamma BDT", XSGAMMA_VARIABLES),
                            ("pi0/eta veto", veto)):
        for v in variables:
            out.setdefault(v, []).append(name)
    return out


def _table(cols: tuple[Column, ...], used: dict[str, list[str]]) -> list[str]:
    lines = ["| column | type | unit | requirement | fill | classifier input | description |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in cols:
        fill = "" if c.fill is None else str(c.fill)
        lines.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {c.requirement} | {fill} | "
                     f"{', '.join(used.get(c.name, []))} | {c.description} |")
    return lines


SCHEMA_MARKDOWN_HEADER = """# Candidate ntuple schema

Every analysis stage after generation (multivariate selection, off-resonance calibration,
cut optimisation and selection, signal model, scan, toys and limits) reads the two tables
of a sample, `results/generation/{mode}/{sample}.parquet` (candidates, one best B
candidate per event) and `results/generation/{mode}/{sample}_pairs.parquet` (photon
pairs for the pi0/eta veto), and the per-sample metadata stored in the parquet schema
metadata under the key `alpscan`.  The toy generator writes them; external ntuples (ROOT
via uproot, or parquet) are imported into the same files through the config key
`inputs` (see README, "Bring your own ntuples").

This page is generated from `src/alpscan/ntuple_schema.py`
(`python -m alpscan.ntuple_schema > docs/ntuple-schema.md`; a test keeps it in sync).

Requirement: **always** — every external sample must provide the column;
**simulation** — generator truth, required for simulated samples and filled with `fill`
for the data samples (`data`, `offres_data`); **derived** — computed from the metadata
when absent; **optional** — read by no stage, filled with `fill` when absent.
"Classifier input" is read from the variable lists of `alpscan.mva` (CS1, CS2, the
X_s-gamma BDT, the pi0/eta veto, whose `*_a` variables are the candidate photon's
`*_gamma1`/`*_gamma2`).  Beyond them the stages read `m_gg` (mass regions, signal
model, scan, limits), `m_gg_raw` (fidelity report), `weight`, `component` (efficiencies
per metadata component, off-resonance calibration), `uid` (training/fit split) and
`event_id` (the veto's join with the pair table).  `mbc`, `delta_e`, `chi2_kinfit` and
`kinfit_ok` describe the B-candidate preselection, which the candidates must already
pass (the toy applies it when it generates; config `preselection`).
Types: an external column may be any numeric type of the same kind (integers are
accepted for float columns, integers for booleans); strings, jagged arrays and objects
are rejected.
"""


def schema_markdown() -> str:
    """Full text of ``docs/ntuple-schema.md``."""
    used = classifier_inputs()
    lines = [SCHEMA_MARKDOWN_HEADER, "## Candidate table", "", *_table(CANDIDATE_COLUMNS, used), "",
             "## Photon-pair table", "", *_table(PAIR_COLUMNS, used), "", "## Per-sample metadata", "",
             "Written as JSON under the parquet schema-metadata key `alpscan`: "
             "`{mode, sample, components: [...], source, files}`.  Each component "
             "(one generator configuration: one signal mass point, one continuum flavour, ...) "
             "is one entry of `components`; the candidate column `component` indexes it.  "
             "In the config (`inputs.<mode>.<sample>.metadata.components`) an entry has the keys:", "",
             "| key | type | description |", "| --- | --- | --- |"]
    lines += [f"| `{k}` | {t} | {d} |" for k, t, d in METADATA_KEYS]
    lines += ["", "They are stored as `n_generated`, `n_selected` (rows in the ntuple), `m_a` (GeV), `ctau_mm`, "
              "`component` (the label) and `weight`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(schema_markdown(), end="")
