"""External ntuples (config ``inputs``): the schema, the ROOT/parquet import and its errors."""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import awkward as ak
import yaml

from alpscan.generation.run import generate_sample
from alpscan.io import read_metadata, write_parquet
from alpscan.ntuple_schema import CANDIDATE_COLUMNS, PAIR_COLUMNS, schema_markdown
from alpscan.ntuples import InputError, check_input, check_inputs, import_sample

from .conftest import ROOT, deep_update
from .ntuple_helpers import CAND_PREFIX, CAND_TREE, PAIR_PREFIX, PAIR_TREE, input_spec, write_root_sample, write_trees

SMALL = {"luminosity": {"on_resonance_fb": 1.0, "off_resonance_fb": 0.2},
         "generation": {"signal": {"n_per_mass": 100}, "min_sim_events": 50}}


@pytest.fixture(scope="module")
def generated(test_config):
    """Small generated Kp samples: {sample: (candidates, pairs, metadata)}."""
    cfg = deep_update(test_config, SMALL)
    return {s: generate_sample("Kp", s, cfg, 7) for s in ("data", "signal_prompt")}


@pytest.fixture()
def root_sample(generated, tmp_path, monkeypatch):
    """The generated Kp data sample as a user's ROOT file (other branch names) and its spec."""
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["data"]
    write_root_sample(cands, pairs, tmp_path / "kp_data.root")
    return input_spec("kp_data*.root", cands, pairs, meta)


def test_generator_writes_exactly_the_schema(generated):
    for cands, pairs, _ in generated.values():
        assert [(k, str(v)) for k, v in cands.dtypes.items()] == [(c.name, c.dtype) for c in CANDIDATE_COLUMNS]
        assert [(k, str(v)) for k, v in pairs.dtypes.items()] == [(c.name, c.dtype) for c in PAIR_COLUMNS]


def test_schema_document_is_rendered_from_the_library():
    assert (ROOT / "docs" / "ntuple-schema.md").read_text() == schema_markdown()
    for col in CANDIDATE_COLUMNS + PAIR_COLUMNS:
        assert col.requirement in ("always", "simulation", "derived", "optional")
        if col.requirement in ("simulation", "optional"):  # omitted columns get the fill value
            assert col.fill is not None, col.name


@pytest.mark.parametrize("sample", ["data", "signal_prompt"])
def test_root_import_reproduces_the_generated_sample(generated, sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated[sample]
    # signal: uid, weight and cτ left out, derived from the metadata as the generator does
    drop = ("uid", "weight", "ctau_mm") if sample == "signal_prompt" else ()
    write_root_sample(cands, pairs, tmp_path / "part.root", drop=drop)
    spec = input_spec("part.root", cands, pairs, meta)
    got_c, got_p, got_meta = import_sample("Kp", sample, spec)
    pd.testing.assert_frame_equal(got_c, cands)
    pd.testing.assert_frame_equal(got_p, pairs)
    for mine, theirs in zip(got_meta["components"], meta["components"]):
        assert mine["n_generated"] == theirs["n_generated"]
        assert mine["n_selected"] == theirs["n_selected"]
        assert mine.get("component") == theirs.get("component")
        if sample == "signal_prompt":
            assert mine["m_a"] == theirs["m_a"]


def test_import_from_parquet_split_over_files(generated, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["data"]
    half = len(cands) // 2
    for i, part in enumerate((cands.iloc[:half], cands.iloc[half:])):
        part.rename(columns=lambda k: CAND_PREFIX + k).to_parquet(f"c{i}.parquet")
    pairs.rename(columns=lambda k: PAIR_PREFIX + k).to_parquet("pairs.parquet")
    spec = input_spec("c*.parquet", cands, pairs, meta)
    spec["pairs"]["files"] = ["pairs.parquet"]
    for table in ("candidates", "pairs"):
        del spec[table]["tree"]
    got_c, got_p, _ = import_sample("Kp", "data", spec)
    pd.testing.assert_frame_equal(got_c, cands)
    pd.testing.assert_frame_equal(got_p, pairs)


def test_weights_from_cross_section_and_luminosity(generated, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["data"]
    one = cands[cands["component"] == 0]
    one_pairs = pairs[pairs["event_id"].isin(one["event_id"])]
    write_root_sample(one, one_pairs, tmp_path / "cc.root", drop=("weight", "component"))
    spec = input_spec("cc.root", one, pairs, {"components": [{"n_generated": 5000}]})
    spec["metadata"]["components"][0] |= {"cross_section_pb": 1300.0, "luminosity_fb": 2.0}
    got, _, got_meta = import_sample("Kp", "data", spec)
    np.testing.assert_allclose(got["weight"], 1300.0 * 2.0 * 1e3 / 5000)
    assert (got["component"] == 0).all() and got_meta["components"][0]["n_selected"] == len(one)
    # data samples may omit the generator truth: filled with the schema's "unknown"
    write_root_sample(one, one_pairs, tmp_path / "notruth.root",
                      drop=("weight", "component", "truth_match", "m_a_true", "parent_gamma1"))
    spec["candidates"]["files"] = spec["pairs"]["files"] = "notruth.root"
    got, _, _ = import_sample("Kp", "data", spec)
    assert not got["truth_match"].any() and got["m_a_true"].isna().all() and (got["parent_gamma1"] == -1).all()


# ------------------------------------------------------------------- bad inputs


def _bad(spec, edit):
    spec = copy.deepcopy(spec)
    edit(spec)
    return spec


def test_missing_file(root_sample):
    spec = _bad(root_sample, lambda s: s["candidates"].update(files="nowhere/*.root"))
    with pytest.raises(InputError, match=r"inputs\.Kp\.data\.candidates\.files.*no file matches 'nowhere/\*\.root'"):
        check_input("Kp", "data", spec)


def test_missing_tree(root_sample):
    spec = _bad(root_sample, lambda s: s["pairs"].update(tree="pairz"))
    with pytest.raises(InputError, match=r"kp_data\.root.*no tree 'pairz'.*photon_pairs"):
        check_input("Kp", "data", spec)


def test_missing_column_names_file_tree_and_column(root_sample, generated, tmp_path):
    cands, pairs, _ = generated["data"]
    write_root_sample(cands, pairs, tmp_path / "kp_data.root", drop=("m_gg",))
    with pytest.raises(InputError, match=r"file 'kp_data\.root', tree 'B2Kgg': missing column 'B_m_gg' for schema "
                                         r"column 'm_gg'"):
        check_input("Kp", "data", root_sample)


def test_truth_is_required_for_simulation(generated, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["signal_prompt"]
    write_root_sample(cands, pairs, tmp_path / "sig.root", drop=("same_parent",))
    with pytest.raises(InputError, match=r"tree 'photon_pairs': missing column 'gg_same_parent'"):
        check_input("Kp", "signal_prompt", input_spec("sig.root", cands, pairs, meta))


def test_column_map_to_unknown_schema_column(root_sample):
    spec = _bad(root_sample, lambda s: s["candidates"]["columns"].update(B_m_gg="mgg"))
    with pytest.raises(InputError, match=r"inputs\.Kp\.data\.candidates\.columns\.B_m_gg.*'mgg' is not a column"):
        check_input("Kp", "data", spec)


@pytest.mark.parametrize("values, found", [
    (lambda n: np.arange(n) + 0.5, "numpy kind 'f'"),
    (lambda n: ak.Array([list(range(i % 3)) for i in range(n)]), "var \\* int64 \\(not a scalar number\\)"),
])
def test_wrong_type(root_sample, generated, tmp_path, values, found):
    cands, pairs, _ = generated["data"]
    branches = {CAND_PREFIX + k: v for k, v in cands.items()}
    branches[CAND_PREFIX + "event_id"] = values(len(cands))
    write_trees(tmp_path / "kp_data.root",
                {CAND_TREE: branches, PAIR_TREE: {PAIR_PREFIX + k: v for k, v in pairs.items()}})
    with pytest.raises(InputError, match=rf"tree 'B2Kgg': column 'B_event_id' has type .*{found}.*needs int64"):
        check_input("Kp", "data", root_sample)


def test_empty_tree(root_sample, generated, tmp_path):
    cands, pairs, _ = generated["data"]
    write_root_sample(cands.iloc[:0], pairs, tmp_path / "kp_data.root")
    with pytest.raises(InputError, match=r"file 'kp_data\.root', tree 'B2Kgg': empty"):
        check_input("Kp", "data", root_sample)


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["metadata"]["components"][0].update(n_generated=1),
     r"components\.0\.n_generated': 1 generated but the ntuple has \d+ candidates"),
    (lambda s: s["metadata"].update(components=s["metadata"]["components"][:1]),
     r"column component has values \[[\d, ]+\] outside 0\.\.0 \(the metadata lists 1 components\)"),
    (lambda s: s["metadata"]["components"][0].update(cross_section_pb=1.0),
     r"components\.0': cross_section_pb and luminosity_fb go together"),
    (lambda s: s["metadata"]["components"][0].update(cross_section_pb=1.0, luminosity_fb=2.0),
     r"components\.0\.cross_section_pb': the ntuple has a weight column too"),
    (lambda s: s["metadata"].update(components=[]), r"at least one component"),
])
def test_inconsistent_metadata(root_sample, edit, message):
    with pytest.raises(InputError, match=message):
        check_input("Kp", "data", _bad(root_sample, edit))


def test_signal_metadata_needs_distinct_masses(generated, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["signal_prompt"]
    write_root_sample(cands, pairs, tmp_path / "sig.root")
    spec = input_spec("sig.root", cands, pairs, meta)
    no_mass = _bad(spec, lambda s: s["metadata"]["components"][1].pop("m_a_gev"))
    with pytest.raises(InputError, match=r"components\.1\.m_a_gev': needed"):
        check_input("Kp", "signal_prompt", no_mass)
    same = _bad(spec, lambda s: s["metadata"]["components"][1].update(m_a_gev=spec["metadata"]["components"][0]["m_a_gev"]))
    with pytest.raises(InputError, match="distinct m_a_gev"):
        check_input("Kp", "signal_prompt", same)


def test_pairs_of_unknown_events(root_sample, generated, tmp_path):
    cands, pairs, _ = generated["data"]
    shifted = pairs.assign(event_id=pairs["event_id"] + 10**9)
    write_root_sample(cands, shifted, tmp_path / "kp_data.root")
    with pytest.raises(InputError, match=r"inputs\.Kp\.data\.pairs: \d+ event_id values .* not in the candidate"):
        check_input("Kp", "data", root_sample)


def test_unknown_mode_or_sample(root_sample):
    with pytest.raises(InputError, match=r"'inputs\.Kstp'.*not an analysed mode"):
        check_inputs({"Kstp": {"data": root_sample}}, ["Kp"], ["data"])
    with pytest.raises(InputError, match=r"'inputs\.Kp\.dta'.*unknown sample"):
        check_inputs({"Kp": {"dta": root_sample}}, ["Kp"], ["data"])


def test_failed_write_leaves_the_existing_file(tmp_path):
    path = tmp_path / "x.parquet"
    write_parquet(pd.DataFrame({"a": [1.0, 2.0]}), str(path), {"n": 1})
    before = path.read_bytes()
    with pytest.raises(Exception):
        write_parquet(pd.DataFrame({"a": [1.0, object()]}), str(path), {"n": 2})
    assert path.read_bytes() == before and read_metadata(str(path)) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


# ------------------------------------------------------- through Snakemake (-n)


def _dry_run(workdir, inputs, targets=("Kp/data", "Kp/bb_charged")):
    extra = workdir / "inputs.yaml"
    extra.write_text(yaml.safe_dump({"inputs": inputs}))
    cmd = [sys.executable, "-m", "snakemake", *(f"results/generation/{t}.parquet" for t in targets), "-n", "--cores", "1", "--directory", str(workdir),
           "--snakefile", str(ROOT / "Snakefile"), "--configfiles", str(ROOT / "config" / "config.yaml"),
           str(ROOT / "config" / "test.yaml"), str(extra)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_workflow_imports_configured_samples_and_generates_the_rest(root_sample, tmp_path):
    # Kp/data and K0S/bb_charged imported; K0S/data (whose mode and sample are both
    # imported somewhere) and Kp/bb_charged generated
    proc = _dry_run(tmp_path, {"Kp": {"data": root_sample}, "K0S": {"bb_charged": root_sample}},
                    targets=("Kp/data", "Kp/bb_charged", "K0S/data", "K0S/bb_charged"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = set(re.findall(r"^Job \d+: (Importing|Generating) .*?(\w+) for mode (\w+)$", proc.stdout, re.M))
    assert jobs == {("Importing", "data", "Kp"), ("Importing", "bb_charged", "K0S"),
                    ("Generating", "bb_charged", "Kp"), ("Generating", "data", "K0S")}, proc.stdout


def test_bad_input_stops_the_workflow_before_any_job(root_sample, tmp_path):
    (tmp_path / "results" / "generation" / "Kp").mkdir(parents=True)
    done = tmp_path / "results" / "generation" / "Kp" / "data.parquet"
    done.write_bytes(b"already computed")
    spec = _bad(root_sample, lambda s: s["candidates"]["columns"].update(B_m_gg="m_gg_typo"))
    proc = _dry_run(tmp_path, {"Kp": {"data": spec}})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "inputs.Kp.data.candidates.columns.B_m_gg" in out, out[-3000:]
    assert "Job stats" not in out
    assert done.read_bytes() == b"already computed"


def test_import_from_rntuple(generated, tmp_path, monkeypatch):
    """ROOT's newer RNTuple format reads the same way as a TTree."""
    import uproot

    monkeypatch.chdir(tmp_path)
    cands, pairs, meta = generated["data"]
    with uproot.recreate("rn.root") as f:  # uproot writes an RNTuple from a dict of arrays
        f[CAND_TREE] = {CAND_PREFIX + k: np.ascontiguousarray(v) for k, v in cands.items()}
        f[PAIR_TREE] = {PAIR_PREFIX + k: np.ascontiguousarray(v) for k, v in pairs.items()}
    with uproot.open("rn.root") as f:
        assert "RNTuple" in type(f[CAND_TREE]).__name__
    got_c, got_p, _ = import_sample("Kp", "data", input_spec("rn.root", cands, pairs, meta))
    pd.testing.assert_frame_equal(got_c, cands)
    pd.testing.assert_frame_equal(got_p, pairs)
