"""The g_aW limit table (``results/limits/gaw.parquet``, spec §11) in HEPData YAML format.

:func:`gaw_to_hepdata` builds one HEPData table: its metadata (``name``, ``description``,
``keywords``) and its data (``independent_variables``: m_a in GeV; ``dependent_variables``: the
observed limit, the expected median and the four expected-band edges, each a separate variable
in GeV⁻¹ with the qualifiers CL, reaction, √s, ...).  :func:`write_gaw_hepdata` writes it in
HEPData's single-YAML-file layout (a submission document, then the table with its data inline),
which ``hepdata-validate --file`` accepts; :func:`read_gaw_hepdata` reads it (or a plain
HEPData data file with only the two variable lists) back into the parquet columns.

Numbers are written with Python's shortest round-trip ``repr``, so a round trip is exact.
Missing values (NaN, and ±inf, which HEPData cannot hold) are written as ``'-'`` (HEPData
convention) and read back as NaN.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "GAW_COLUMNS",
    "DEFAULT_QUALIFIERS",
    "gaw_to_hepdata",
    "write_gaw_hepdata",
    "read_gaw_hepdata",
]

#: Columns of the limit table, in order: m_a (GeV), then the limits (GeV⁻¹).
GAW_COLUMNS = ("m_a", "gaw_ul_obs", "gaw_ul_exp", "gaw_ul_exp_m2", "gaw_ul_exp_m1", "gaw_ul_exp_p1",
               "gaw_ul_exp_p2")
#: HEPData header names of the dependent variables, by column (read back by these names).
HEADERS = {
    "gaw_ul_obs": "Observed upper limit on $g_{aW}$",
    "gaw_ul_exp": "Expected upper limit on $g_{aW}$ (median)",
    "gaw_ul_exp_m2": r"Expected upper limit on $g_{aW}$ ($-2\sigma$)",
    "gaw_ul_exp_m1": r"Expected upper limit on $g_{aW}$ ($-1\sigma$)",
    "gaw_ul_exp_p1": r"Expected upper limit on $g_{aW}$ ($+1\sigma$)",
    "gaw_ul_exp_p2": r"Expected upper limit on $g_{aW}$ ($+2\sigma$)",
}
M_A_HEADER = {"name": "$m_a$", "units": "GeV"}
GAW_UNITS = "GeV$^{-1}$"
#: HEPData's placeholder for a missing value.
MISSING = "-"
#: Qualifiers of every dependent variable unless overridden (by name) in ``qualifiers``; the CL
#: entry follows the ``cl`` argument of :func:`gaw_to_hepdata`.
DEFAULT_QUALIFIERS = (
    {"name": "CL", "value": "90%"},
    {"name": "RE", "value": "B --> K(*) a, a --> GAMMA GAMMA"},
    {"name": "SQRT(S)", "units": "GeV", "value": 10.58},
    {"name": "ALP model", "value": "coupling to SU(2)_L gauge bosons only (g_aW), prompt decay"},
)
DEFAULT_KEYWORDS = (
    {"name": "reactions", "values": ["B --> K a", "B --> K* a", "a --> GAMMA GAMMA"]},
    {"name": "observables", "values": ["UL"]},
    {"name": "cmenergies", "values": [10.58]},
    {"name": "phrases", "values": ["Axion-like particle", "Upper limit", "Rare B decay"]},
)


def _encode(value) -> float | str:
    """A finite number as Python float, anything else as HEPData's missing value ``'-'``."""
    value = float(value)
    return value if math.isfinite(value) else MISSING


def _decode(value) -> float:
    """HEPData value to float; ``'-'`` (or any other non-number) to NaN."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


#: Decay names of the modes (HEPData reaction notation).
MODE_REACTIONS = {"Kp": "B+ --> K+ a", "K0S": "B0 --> K0S a", "Kst0": "B0 --> K*0 a",
                  "Kstp": "B+ --> K*+ a"}


def _default_description(cl: float, modes) -> str:
    """Description naming the CL, the quantity and the combined modes."""
    text = (f"Upper limits at {100 * cl:g}% CL on the ALP-W coupling g_aW versus the ALP mass m_a "
            "for a prompt ALP decaying to two photons")
    if modes:
        text += ", combining " + ", ".join(MODE_REACTIONS.get(m, m) for m in modes)
    return text + ". alpscan toy reproduction of arXiv:2507.01249 on pseudo-data (not Belle data)."


def _merge_qualifiers(qualifiers, base=DEFAULT_QUALIFIERS) -> list[dict]:
    """``base`` qualifiers with ``qualifiers`` (list of dicts or mapping name → value) on top."""
    if qualifiers is None:
        extra = []
    elif isinstance(qualifiers, dict):
        extra = [{"name": str(k), "value": v} for k, v in qualifiers.items()]
    else:
        extra = [dict(q) for q in qualifiers]
    for q in extra:
        if "name" not in q or "value" not in q:
            raise ValueError(f"qualifier {q!r} needs 'name' and 'value'")
    names = {q["name"] for q in extra}
    return [dict(q) for q in base if q["name"] not in names] + extra


def gaw_to_hepdata(gaw: pd.DataFrame, *, description: str | None = None, qualifiers=None,
                   cl: float = 0.90, modes=None, name: str = "Upper limits on g_aW",
                   keywords=None) -> dict:
    """One HEPData table (metadata and data) of the g_aW upper limits.

    Parameters
    ----------
    gaw : pandas.DataFrame
        Columns :data:`GAW_COLUMNS`: ``m_a`` (GeV, finite) and the observed, expected and
        expected-band limits (GeV⁻¹; NaN/inf become ``'-'``).  Other columns are ignored.
    description : str, optional
        Table description (HEPData ``description``); default built from ``cl`` and ``modes``.
    qualifiers : list of dict or dict, optional
        Qualifiers of each dependent variable (``{"name", "value"[, "units"]}`` dicts or a
        mapping name → value); they replace defaults of the same name in
        :data:`DEFAULT_QUALIFIERS` (CL, reaction, √s = 10.58 GeV, ALP model) and the
        ``modes`` qualifier.
    cl : float
        Confidence level as a fraction (0.90 gives the qualifier ``CL: 90%``).
    modes : sequence of str, optional
        Combined modes (``Kp``, ``K0S``, ``Kst0``, ``Kstp``): named in the default description
        and in a ``modes`` qualifier.
    name : str
        Table name (HEPData allows at most 64 characters).
    keywords : list of dict, optional
        HEPData keywords (default :data:`DEFAULT_KEYWORDS`).

    Returns
    -------
    dict
        ``name``, ``description``, ``keywords``, ``independent_variables`` and
        ``dependent_variables``, built from plain Python types (ready for ``yaml.safe_dump``).

    Raises
    ------
    ValueError
        If a column is missing, ``m_a`` is not finite, or ``name`` is longer than 64 characters.
    """
    missing = [c for c in GAW_COLUMNS if c not in gaw.columns]
    if missing:
        raise ValueError(f"g_aW table: missing column(s) {missing}; has {list(gaw.columns)}")
    if len(name) > 64:
        raise ValueError(f"HEPData table name longer than 64 characters: {name!r}")
    m_a = pd.to_numeric(gaw["m_a"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(m_a)):
        raise ValueError("g_aW table: m_a must be finite in every row")
    base = [dict(q, value=f"{100 * cl:g}%") if q["name"] == "CL" else dict(q)
            for q in DEFAULT_QUALIFIERS]
    if modes:
        base.append({"name": "modes", "value": ", ".join(MODE_REACTIONS.get(m, m) for m in modes)})
    quals = _merge_qualifiers(qualifiers, base)
    if description is None:
        description = _default_description(cl, modes)
    dependent = []
    for col in GAW_COLUMNS[1:]:
        values = pd.to_numeric(gaw[col], errors="coerce").to_numpy(dtype=float)
        dependent.append({
            "header": {"name": HEADERS[col], "units": GAW_UNITS},
            "qualifiers": [dict(q) for q in quals],
            "values": [{"value": _encode(v)} for v in values],
        })
    return {
        "name": name,
        "description": description,
        "keywords": [dict(k) for k in (DEFAULT_KEYWORDS if keywords is None else keywords)],
        "independent_variables": [{"header": dict(M_A_HEADER),
                                   "values": [{"value": float(v)} for v in m_a]}],
        "dependent_variables": dependent,
    }


def write_gaw_hepdata(gaw: pd.DataFrame, path, *, comment: str | None = None, **meta) -> Path:
    """Write the g_aW limits as a single-file HEPData submission (YAML).

    Parameters
    ----------
    gaw : pandas.DataFrame
        See :func:`gaw_to_hepdata`.
    path : str or pathlib.Path
        Output file (parent directories are created).
    comment : str, optional
        Submission-level comment (first YAML document); default names the toy reproduction.
    **meta
        Keyword arguments of :func:`gaw_to_hepdata` (``description``, ``qualifiers``, ``cl``,
        ``modes``, ``name``, ``keywords``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    table = gaw_to_hepdata(gaw, **meta)
    if comment is None:
        comment = ("alpscan toy reproduction of the Belle search for an axion-like particle in "
                   "B -> K(*) a, a -> gamma gamma (arXiv:2507.01249); pseudo-data, not Belle data.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = yaml.safe_dump({"comment": comment}, default_flow_style=False, allow_unicode=True,
                          width=100)
    body = yaml.safe_dump(table, sort_keys=False, allow_unicode=True, default_flow_style=None,
                          width=100)
    path.write_text(f"{head}---\n{body}", encoding="utf-8")
    return path


def _table_document(docs: list, path: Path) -> dict:
    """The first YAML document holding HEPData variables."""
    for doc in docs:
        if isinstance(doc, dict) and "dependent_variables" in doc:
            return doc
    raise ValueError(f"{path}: no HEPData table (no 'dependent_variables') in the file")


def read_gaw_hepdata(path) -> pd.DataFrame:
    """Read a g_aW limit table written by :func:`write_gaw_hepdata`.

    Parameters
    ----------
    path : str or pathlib.Path
        Single-file HEPData submission, or a HEPData data file with only
        ``independent_variables`` and ``dependent_variables``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GAW_COLUMNS` (float64; ``'-'`` becomes NaN), rows in file order.

    Raises
    ------
    ValueError
        If the file holds no table, a variable is missing or the value lists differ in length.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as stream:
        docs = list(yaml.safe_load_all(stream))
    table = _table_document(docs, path)
    by_name = {dv["header"]["name"]: dv for dv in table["dependent_variables"]}
    try:
        (indep,) = table["independent_variables"]
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path}: expected one independent variable (m_a)") from err
    columns = {"m_a": [_decode(v.get("value")) for v in indep["values"]]}
    for col, header in HEADERS.items():
        if header not in by_name:
            raise ValueError(f"{path}: no dependent variable named {header!r} (column {col})")
        columns[col] = [_decode(v.get("value")) for v in by_name[header]["values"]]
    lengths = {col: len(v) for col, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{path}: value lists differ in length: {lengths}")
    return pd.DataFrame({col: np.asarray(columns[col], dtype=float) for col in GAW_COLUMNS})
