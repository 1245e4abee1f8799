"""Merging chunked outputs (scan and toy chunks) checks that nothing is missing (issue 20)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from alpscan.fitting.scan import chunk_of, read_chunks
from alpscan.io import write_parquet

POINTS = np.round(np.linspace(0.16, 4.5, 523), 6)  # the test run's K+ scan has 523 points
N_CHUNKS = 2
N_TOYS = 100


def _toy_rows(m_a):
    n = np.size(m_a)
    return pd.DataFrame({"m_a": m_a, "n_toys": np.full(n, N_TOYS), "n_toys_ok": np.full(n, N_TOYS - 1),
                         "bias": np.zeros(n), "fit_ok": np.ones(n, bool)})


def _write_chunks(tmp_path, rows=_toy_rows, n_chunks=N_CHUNKS):
    paths = []
    for i in range(n_chunks):
        path = str(tmp_path / f"chunk_{i}.parquet")
        write_parquet(rows(chunk_of(POINTS, i, n_chunks)), path, {"mode": "Kp", "chunk": i})
        paths.append(path)
    return paths


def test_complete_chunks_merge_in_order(tmp_path):
    paths = _write_chunks(tmp_path)
    merged = read_chunks(paths, POINTS, n_toys=N_TOYS)
    assert np.array_equal(merged["m_a"].to_numpy(), POINTS)
    # more chunks than points: empty chunks are complete too
    few = POINTS[:3]
    paths = []
    for i in range(5):
        path = str(tmp_path / f"small_{i}.parquet")
        write_parquet(_toy_rows(chunk_of(few, i, 5)), path, {"mode": "Kp", "chunk": i})
        paths.append(path)
    assert np.array_equal(read_chunks(paths, few, n_toys=N_TOYS)["m_a"].to_numpy(), few)


def test_half_a_chunk_is_an_error_naming_the_file(tmp_path):
    """The issue's case: valid parquet holding only part of its points."""
    paths = _write_chunks(tmp_path)
    half = chunk_of(POINTS, 1, N_CHUNKS)
    write_parquet(_toy_rows(half[: half.size // 2]), paths[1], {"mode": "Kp", "chunk": 1})
    with pytest.raises(ValueError, match=r"chunk_1\.parquet.*holds 130 scan points, expected 261"):
        read_chunks(paths, POINTS)


def test_other_points_duplicates_and_labels_are_errors(tmp_path):
    paths = _write_chunks(tmp_path)
    shifted = chunk_of(POINTS, 0, N_CHUNKS) + 1e-4  # stale: other scan points
    write_parquet(_toy_rows(shifted), paths[0], {"mode": "Kp", "chunk": 0})
    with pytest.raises(ValueError, match=r"chunk_0\.parquet.*other scan points"):
        read_chunks(paths, POINTS)
    paths = _write_chunks(tmp_path)
    c0 = chunk_of(POINTS, 0, N_CHUNKS)
    dup = np.concatenate([c0[:-1], c0[:1]])  # right count, one point twice, one missing
    write_parquet(_toy_rows(dup), paths[0], {"mode": "Kp", "chunk": 0})
    with pytest.raises(ValueError, match=r"chunk_0\.parquet.*other scan points"):
        read_chunks(paths, POINTS)
    paths = _write_chunks(tmp_path)
    shutil.copy(paths[0], paths[1])  # chunk 0's file in chunk 1's place
    with pytest.raises(ValueError, match=r"chunk_1\.parquet.*labelled chunk 0"):
        read_chunks(paths, POINTS)


def test_toy_counts_are_checked(tmp_path):
    def fewer_toys(m_a):
        t = _toy_rows(m_a)
        t.loc[3, "n_toys"] = 50
        return t

    paths = _write_chunks(tmp_path, rows=fewer_toys)
    with pytest.raises(ValueError, match=r"chunk_0\.parquet.*expected 100 \(config toys\.n_toys\)"):
        read_chunks(paths, POINTS, n_toys=N_TOYS)
    read_chunks(paths, POINTS)  # a scan chunk has no toy count to check

    def too_many_ok(m_a):
        t = _toy_rows(m_a)
        t.loc[0, "n_toys_ok"] = N_TOYS + 1
        return t

    paths = _write_chunks(tmp_path, rows=too_many_ok)
    with pytest.raises(ValueError, match=r"chunk_0\.parquet.*more converged toys"):
        read_chunks(paths, POINTS, n_toys=N_TOYS)


def test_truncated_chunk_file_is_named(tmp_path):
    paths = _write_chunks(tmp_path)
    with open(paths[1], "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match=r"chunk_1\.parquet"):
        read_chunks(paths, POINTS)
