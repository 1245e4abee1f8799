"""Parquet I/O shared by all stages: one file per (stage, wildcards), with the
producing stage's metadata (JSON) in the schema under the key ``alpscan``.
Damaged or missing files raise ``ValueError`` naming the file."""

from __future__ import annotations

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(frame: pd.DataFrame, path: str, meta: dict) -> None:
    """Write ``frame`` with ``meta`` (JSON) in the parquet schema metadata ``alpscan``.

    The file is written next to ``path`` and moved into place, so a failure leaves an
    existing ``path`` untouched and never a truncated file."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"alpscan": json.dumps(meta).encode()})
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_metadata(path: str) -> dict:
    """The ``alpscan`` metadata written by :func:`write_parquet`."""
    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for damaged files
        raise ValueError(f"cannot read parquet file {path!r}: {err}") from err
    raw = (schema.metadata or {}).get(b"alpscan")
    if raw is None:
        raise ValueError(f"parquet file {path!r} has no alpscan metadata")
    return json.loads(raw)


def read_parquet(path: str, columns=None) -> pd.DataFrame:
    """Read a parquet file with a clear error naming the file when it is damaged."""
    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as err:
        raise ValueError(f"cannot read parquet file {path!r} (truncated or not parquet?): {err}") from err
