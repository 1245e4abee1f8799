"""HEPData YAML export of the g_aW limits: exact round trip, NaN, HEPData keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from alpscan.hepdata import GAW_COLUMNS, gaw_to_hepdata, read_gaw_hepdata, write_gaw_hepdata

META = {"description": "90% CL upper limits on g_aW (alpscan toy).", "qualifiers": None}


def gaw_table(n: int = 25, seed: int = 3) -> pd.DataFrame:
    """Limit table with awkward floats (full 17-digit mantissas, tiny and huge exponents)."""
    rng = np.random.default_rng(seed)
    m_a = np.sort(rng.uniform(0.1, 4.6, n))
    exp = rng.uniform(2e-6, 2e-5, n)
    frame = pd.DataFrame({
        "m_a": m_a,
        "gaw_ul_obs": exp * rng.uniform(0.5, 2.0, n),
        "gaw_ul_exp": exp,
        "gaw_ul_exp_m2": exp * 0.5,
        "gaw_ul_exp_m1": exp * 0.7,
        "gaw_ul_exp_p1": exp * 1.4,
        "gaw_ul_exp_p2": exp * 1.9,
    })
    frame.loc[0, "gaw_ul_obs"] = 1e-300
    frame.loc[1, "gaw_ul_exp"] = 1.0e16
    frame.loc[2, "m_a"] = 0.1 + 0.2
    return frame


def test_round_trip_is_exact(tmp_path):
    gaw = gaw_table()
    path = write_gaw_hepdata(gaw, tmp_path / "gaw.yaml", **META)
    back = read_gaw_hepdata(path)
    assert list(back.columns) == list(GAW_COLUMNS)
    pd.testing.assert_frame_equal(back, gaw, check_exact=True)


def test_nan_survives_as_dash(tmp_path):
    gaw = gaw_table(8)
    gaw.loc[3, "gaw_ul_obs"] = np.nan
    gaw.loc[[4, 5], "gaw_ul_exp_p2"] = np.nan
    path = write_gaw_hepdata(gaw, tmp_path / "gaw.yaml", **META)
    table = list(yaml.safe_load_all(path.read_text()))[-1]
    obs = table["dependent_variables"][0]["values"]
    assert obs[3] == {"value": "-"}
    back = read_gaw_hepdata(path)
    pd.testing.assert_frame_equal(back, gaw, check_exact=True)
    assert back["gaw_ul_obs"].isna().sum() == 1 and back["gaw_ul_exp_p2"].isna().sum() == 2


def test_inf_is_written_as_missing(tmp_path):
    gaw = gaw_table(4)
    gaw.loc[3, "gaw_ul_obs"] = np.inf
    back = read_gaw_hepdata(write_gaw_hepdata(gaw, tmp_path / "gaw.yaml", **META))
    assert np.isnan(back.loc[3, "gaw_ul_obs"])


def test_yaml_has_hepdata_structure(tmp_path):
    gaw = gaw_table(5)
    quals = [{"name": "CL", "value": "90%"}, {"name": "mode", "value": "all"}]
    path = write_gaw_hepdata(gaw, tmp_path / "gaw.yaml", description="limits", qualifiers=quals)
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert "comment" in docs[0]
    table = docs[-1]
    assert {"name", "description", "keywords", "independent_variables",
            "dependent_variables"} <= set(table)
    assert table["description"] == "limits"
    (indep,) = table["independent_variables"]
    assert indep["header"] == {"name": "$m_a$", "units": "GeV"}
    assert len(indep["values"]) == 5
    deps = table["dependent_variables"]
    assert len(deps) == 6
    for dep in deps:
        assert dep["header"]["units"] == "GeV$^{-1}$"
        assert len(dep["values"]) == 5 and all(set(v) == {"value"} for v in dep["values"])
        by_name = {q["name"]: q["value"] for q in dep["qualifiers"]}
        assert by_name["CL"] == "90%" and by_name["mode"] == "all"
        assert "RE" in by_name and "SQRT(S)" in by_name
    names = [d["header"]["name"] for d in deps]
    assert any("Observed" in n for n in names) and sum("Expected" in n for n in names) == 5
    assert {k["name"] for k in table["keywords"]} >= {"reactions", "observables", "cmenergies"}


def test_dict_is_plain_python():
    table = gaw_to_hepdata(gaw_table(3), description="d", qualifiers={"CL": "90%"})
    text = yaml.safe_dump(table)  # raises on numpy scalars
    assert "independent_variables" in text


def test_plain_data_file_is_read(tmp_path):
    gaw = gaw_table(6)
    table = gaw_to_hepdata(gaw, description="d", qualifiers=None)
    data = {k: table[k] for k in ("independent_variables", "dependent_variables")}
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data))
    pd.testing.assert_frame_equal(read_gaw_hepdata(path), gaw, check_exact=True)


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(ValueError, match="gaw_ul_exp_p2"):
        gaw_to_hepdata(gaw_table(3).drop(columns="gaw_ul_exp_p2"), description="d")
    bad = gaw_table(3)
    bad.loc[0, "m_a"] = np.nan
    with pytest.raises(ValueError, match="m_a"):
        gaw_to_hepdata(bad, description="d")
    path = tmp_path / "other.yaml"
    path.write_text("comment: nothing here\n")
    with pytest.raises(ValueError, match="no HEPData table"):
        read_gaw_hepdata(path)


def test_rule_call_with_cl_and_modes(tmp_path):
    """The ``limit_gaw`` rule's call: no description, CL as a fraction, the combined modes."""
    gaw = gaw_table(4)
    path = write_gaw_hepdata(gaw, tmp_path / "gaw.yaml", cl=0.9,
                             modes=["Kp", "K0S", "Kst0", "Kstp"])
    table = list(yaml.safe_load_all(path.read_text()))[-1]
    assert "90% CL" in table["description"] and "B0 --> K*0 a" in table["description"]
    quals = {q["name"]: q["value"] for q in table["dependent_variables"][0]["qualifiers"]}
    assert quals["CL"] == "90%" and quals["modes"].count("-->") == 4
    pd.testing.assert_frame_equal(read_gaw_hepdata(path), gaw, check_exact=True)
    quals95 = gaw_to_hepdata(gaw, cl=0.95)["dependent_variables"][0]["qualifiers"]
    assert {"name": "CL", "value": "95%"} in quals95
