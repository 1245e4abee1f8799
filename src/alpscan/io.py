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


def concat_parquet(paths: list[str], path: str, meta: dict) -> int:
    """Concatenate parquet files (same columns) into ``path`` with ``meta``, one input
    at a time (memory: the largest input, not the sum); inputs without rows and columns
    (an empty chunk) are skipped.  Written next to ``path`` and moved into place, like
    :func:`write_parquet`.  Returns the number of rows written."""
    tmp, rows, writer, first = f"{path}.tmp-{os.getpid()}", 0, None, None
    try:
        for source in paths:
            try:
                table = pq.read_table(source)
            except Exception as err:  # pyarrow raises several types for damaged files
                raise ValueError(f"cannot read parquet file {source!r}: {err}") from err
            if not (table.num_columns or table.num_rows):
                continue
            first = first or source
            if writer is None:
                schema = table.schema.with_metadata(
                    {**(table.schema.metadata or {}), b"alpscan": json.dumps(meta).encode()})
                writer = pq.ParquetWriter(tmp, schema)
            elif not table.schema.equals(writer.schema, check_metadata=False):
                raise ValueError(f"parquet file {source!r} has columns {table.schema.names}, expected "
                                 f"{writer.schema.names} (from {first!r})")
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
            rows += table.num_rows
            del table
        if writer is None:
            write_parquet(pd.DataFrame(), path, meta)
            return 0
        writer.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return rows


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
