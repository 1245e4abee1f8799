"""Chunked generation (issue 16): a sample cut into any number of jobs gives the same
events, and the workflow schedules exactly the chunks the library plans."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from alpscan.generation.run import chunk_plan, generate_sample, merge_chunk_metadata, n_chunks, sample_blocks
from alpscan.generation.samples import SIGNAL_SAMPLES, sample_names
from alpscan.io import concat_parquet, read_metadata, read_parquet, write_parquet

from .conftest import ROOT, deep_update

# pseudo-data: eleven components, Poisson yields (about 1000 events), blocks of 200 events
SMALL = {"luminosity": {"on_resonance_fb": 2.0, "off_resonance_fb": 0.5}, "generation": {"chunk_size": 200}}


@pytest.fixture(scope="module")
def small_config(test_config):
    return deep_update(test_config, SMALL)


@pytest.fixture(scope="module")
def whole_data(small_config):
    return generate_sample("Kp", "data", small_config, seed=11)


def test_chunk_plan_packs_whole_blocks_in_order():
    blocks = [(0, 0, 0, 500), (0, 1, 500, 120), (1, 0, 0, 500), (1, 1, 500, 500), (2, 0, 0, 30)]
    assert chunk_plan(blocks, 620) == [[0, 1], [2], [3, 4]]
    assert chunk_plan(blocks, 10_000) == [[0, 1, 2, 3, 4]]
    assert chunk_plan(blocks, 500) == [[0], [1], [2], [3], [4]]
    assert chunk_plan([], 500) == [[]]  # a sample without events is one (empty) job


def test_blocks_cover_every_component_once(small_config):
    comps, blocks = sample_blocks("Kp", "data", small_config, seed=11)
    assert len(comps) >= 11
    for ci, comp in enumerate(comps):
        own = [b for b in blocks if b[0] == ci]
        assert sum(b[3] for b in own) == comp["n_total"]
        assert all(0 < b[3] <= 200 for b in own)
        assert [b[2] for b in own] == list(range(0, comp["n_total"], 200))
    assert comps[0]["first_id"] == 0
    assert all(b["first_id"] == a["first_id"] + a["n_total"] for a, b in zip(comps, comps[1:]))


@pytest.mark.parametrize("events_per_chunk", [300, 700])
def test_any_chunking_gives_the_events_of_one_job(small_config, whole_data, events_per_chunk):
    """Deterministic whatever the number of jobs: the chunks of any events_per_chunk,
    concatenated in order, equal the sample generated in one job row for row (ids,
    weights, every column), with the same Poisson yields."""
    cands, pairs, meta = whole_data
    n = n_chunks("Kp", "data", small_config, 11, events_per_chunk)
    assert n >= 2 + (events_per_chunk < 500)
    parts = [generate_sample("Kp", "data", small_config, 11, chunk=k, events_per_chunk=events_per_chunk)
             for k in range(n)]
    assert all(0 < sum(c["n_generated"] for c in p[2]["components"]) <= events_per_chunk for p in parts)
    pd.testing.assert_frame_equal(pd.concat([p[0] for p in parts], ignore_index=True), cands)
    pd.testing.assert_frame_equal(pd.concat([p[1] for p in parts], ignore_index=True), pairs)
    assert merge_chunk_metadata([p[2] for p in parts]) == meta


def test_merged_chunk_files_equal_the_one_job_file(small_config, whole_data, tmp_path):
    """What merge_sample writes (alpscan.io.concat_parquet) is what generate_sample writes."""
    cands, pairs, meta = whole_data
    write_parquet(cands, str(tmp_path / "whole.parquet"), meta)
    paths = []
    for k in range(n_chunks("Kp", "data", small_config, 11, 500)):
        part, _, part_meta = generate_sample("Kp", "data", small_config, 11, chunk=k, events_per_chunk=500)
        paths.append(str(tmp_path / f"chunk_{k}.parquet"))
        write_parquet(part, paths[-1], part_meta)
    write_parquet(pd.DataFrame(), str(tmp_path / "empty.parquet"), {})  # a chunk without candidates
    merged_meta = merge_chunk_metadata([read_metadata(p) for p in paths])
    rows = concat_parquet([paths[0], str(tmp_path / "empty.parquet"), *paths[1:]], str(tmp_path / "merged.parquet"),
                          merged_meta)
    assert rows == len(cands)
    pd.testing.assert_frame_equal(read_parquet(str(tmp_path / "merged.parquet")),
                                  read_parquet(str(tmp_path / "whole.parquet")))
    assert read_metadata(str(tmp_path / "merged.parquet")) == read_metadata(str(tmp_path / "whole.parquet"))


def test_block_streams_are_independent(small_config, whole_data):
    """Blocks draw from their own streams: a different seed or block size changes the events."""
    cands = whole_data[0]
    other_seed = generate_sample("Kp", "data", small_config, seed=12)[0]
    other_block = generate_sample("Kp", "data", deep_update(small_config, {"generation": {"chunk_size": 150}}), 11)[0]
    for other in (other_seed, other_block):
        common = min(len(other), len(cands))
        assert not np.allclose(other["m_gg"].to_numpy()[:common], cands["m_gg"].to_numpy()[:common])


def test_missing_chunks_and_bad_chunk_index_are_errors(small_config, whole_data):
    part = generate_sample("Kp", "data", small_config, 11, chunk=0, events_per_chunk=500)
    with pytest.raises(ValueError, match="expected 0"):
        merge_chunk_metadata([part[2]])
    with pytest.raises(ValueError, match="chunk 99 does not exist"):
        generate_sample("Kp", "data", small_config, 11, chunk=99, events_per_chunk=500)


def test_dry_run_schedules_exactly_the_planned_chunks(test_config, tmp_path):
    """With a small events_per_chunk the dry run has one generate_chunk job per planned
    chunk, one merge_sample per chunked sample and generate_sample for the rest."""
    events_per_chunk = 20000
    expected = {"generate_chunk": 0, "merge_sample": 0, "generate_sample": 0}
    for mode in test_config["modes"]:
        for sample in sample_names(mode):
            cfg = dict(test_config)
            if sample in SIGNAL_SAMPLES:  # the workflow passes signal jobs a smaller slice: same plan
                cfg = {k: test_config[k] for k in ("beam", "detector", "preselection", "generation")}
            n = n_chunks(mode, sample, cfg, test_config["seed"], events_per_chunk)
            if n == 1:
                expected["generate_sample"] += 1
            else:
                expected["generate_chunk"] += n
                expected["merge_sample"] += 1
    assert expected["merge_sample"] >= 2
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
           "--snakefile", str(ROOT / "Snakefile"), "--configfiles", str(ROOT / "config" / "config.yaml"),
           str(ROOT / "config" / "test.yaml"), "--config", f"generation={{events_per_chunk: {events_per_chunk}}}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("Job stats:")[1].split("Reasons:")[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert {k: jobs.get(k, 0) for k in expected} == expected
    assert "results/generation/Kp/data/chunk_0.parquet" in proc.stdout
