"""Parquet I/O: metadata round trip and clear errors for damaged files."""

from __future__ import annotations

import pandas as pd
import pytest

from alpscan.io import read_metadata, read_parquet, write_parquet


def test_roundtrip_keeps_frame_and_metadata(tmp_path):
    frame = pd.DataFrame({"m_gg": [0.1, 1.5], "weight": [1.0, 2.0]})
    path = tmp_path / "x.parquet"
    write_parquet(frame, str(path), {"mode": "Kp", "components": [{"n_generated": 10}]})
    pd.testing.assert_frame_equal(read_parquet(str(path)), frame)
    assert read_metadata(str(path))["components"][0]["n_generated"] == 10


def test_truncated_parquet_error_names_the_file(tmp_path):
    frame = pd.DataFrame({"m_gg": range(1000)})
    path = tmp_path / "truncated.parquet"
    write_parquet(frame, str(path), {})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.parquet"):
        read_parquet(str(path))
    with pytest.raises(ValueError, match="truncated.parquet"):
        read_metadata(str(path))
