"""External ntuples: check and import candidate tables written by someone else.

A sample listed under the config key ``inputs.<mode>.<sample>`` is not generated: the
``import_sample`` rule reads its ROOT (through uproot) or parquet files, renames the
columns to the :mod:`alpscan.ntuple_schema` names, derives the columns the schema marks
``derived`` from the metadata, and writes the same two files the generator would
(``results/generation/{mode}/{sample}.parquet`` and ``..._pairs.parquet``), so every
later stage runs unchanged.

One sample's configuration (``spec``)::

    candidates: {files: "ntuples/kp_data_*.root", tree: "B2Kgg", columns: {Mgg: m_gg, ...}}
    pairs:      {files: "ntuples/kp_data_*.root", tree: "pairs", columns: {...}}
    metadata:   {components: [{n_generated: 123456, cross_section_pb: 1.2, luminosity_fb: 40}]}

``files`` is a glob pattern or a list of them (relative to the working directory);
``.root`` files are read with uproot (``tree`` required), ``.parquet`` files with
pyarrow.  ``columns`` maps the file's column names to the schema's; a schema column
not in the map is looked for under its own name.

:func:`check_input` finds every problem before any job runs (called by the workflow
when it parses the configuration): a missing file, tree or column, a wrong type, an
empty tree, inconsistent metadata.  Each raises :class:`InputError` naming the config
key and, where it applies, the file, the tree and the column.
"""

from __future__ import annotations

import glob
import os
import zlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from alpscan.ntuple_schema import DATA_SAMPLES, Column, columns, needed

TABLES = ("candidates", "pairs")
#: Signal samples whose metadata must give the ALP mass of each component.
MASS_SAMPLES = ("signal_prompt", "signal_longlived")
#: Type kinds (numpy ``dtype.kind``) accepted for a schema column of each dtype.
ACCEPTED_KINDS = {"float64": "fiu", "int64": "iu", "bool": "biu"}


class InputError(ValueError):
    """An external ntuple or its configuration is unusable; the message says where."""


# --------------------------------------------------------------------------- files


def file_format(path: str) -> str:
    """``root`` or ``parquet`` from the file name."""
    if path.endswith(".root"):
        return "root"
    if path.endswith(".parquet") or path.endswith(".pq"):
        return "parquet"
    raise InputError(f"file {path!r}: unknown format (expected a .root or .parquet file)")


def expand_files(patterns, key: str) -> list[str]:
    """Sorted files matching the glob pattern(s) ``patterns``; each pattern must match."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    out = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if not found:
            raise InputError(f"config key '{key}': no file matches {pattern!r} (working directory {os.getcwd()})")
        out += found
    return out


def _where(path: str, tree: str | None) -> str:
    return f"file {path!r}" + (f", tree {tree!r}" if tree else "")


def _root_tree(path: str, tree: str | None, key: str):
    import uproot

    if not tree:
        raise InputError(f"config key '{key}.tree': needed for the ROOT file {path!r}")
    try:
        handle = uproot.open(path)
    except Exception as err:  # uproot raises several types for damaged files
        raise InputError(f"file {path!r}: cannot open as ROOT file: {err}") from err
    if tree not in handle:
        keys = sorted({k.split(";")[0] for k in handle.keys()})
        raise InputError(f"file {path!r}: no tree {tree!r} (config key '{key}.tree'); the file has {keys}")
    return handle[tree]


def file_columns(path: str, tree: str | None, key: str) -> tuple[dict[str, str], int]:
    """(column name -> numpy dtype kind, or a description of an unusable type; entries)."""
    if file_format(path) == "root":
        import awkward as ak

        obj = _root_tree(path, tree, key)  # a TTree or an RNTuple
        first = obj.arrays(entry_stop=1)  # types from (at most) one entry
        kinds = {}
        for name in first.fields:
            typ = first[name].type.content
            if isinstance(typ, ak.types.NumpyType) and np.dtype(typ.primitive).kind in "fiub":
                kinds[name] = np.dtype(typ.primitive).kind
            else:
                kinds[name] = f"{typ} (not a scalar number)"
        return kinds, int(obj.num_entries)
    try:
        meta = pq.ParquetFile(path)
    except Exception as err:
        raise InputError(f"file {path!r}: cannot read as parquet: {err}") from err
    schema = meta.schema_arrow
    kinds = {}
    for field in schema:
        try:
            dtype = np.dtype(field.type.to_pandas_dtype())
            kinds[field.name] = dtype.kind if dtype.kind in "fiub" else f"{field.type} (not a scalar number)"
        except (RuntimeError, TypeError):  # pyarrow: nested types have no pandas dtype
            kinds[field.name] = f"{field.type} (not a scalar number)"
    return kinds, int(meta.metadata.num_rows)


def read_file_columns(path: str, tree: str | None, names: list[str], key: str) -> dict[str, np.ndarray]:
    """The columns ``names`` of one file as numpy arrays."""
    if not names:
        return {}
    if file_format(path) == "root":
        import awkward as ak

        arrays = _root_tree(path, tree, key).arrays(names)
        return {name: ak.to_numpy(arrays[name]) for name in names}
    table = pq.read_table(path, columns=names)
    return {name: table.column(name).to_numpy() for name in names}


# --------------------------------------------------------------------- column map


def source_names(spec: dict, table: str, key: str) -> dict[str, str]:
    """Schema column -> the file's column name (the ``columns`` map, else the same name)."""
    schema_names = {c.name for c in columns(table)}
    mapping = spec.get("columns", {}) or {}
    out = {}
    for user, target in mapping.items():
        if target not in schema_names:
            raise InputError(f"config key '{key}.columns.{user}': {target!r} is not a column of the {table} "
                             f"schema (docs/ntuple-schema.md)")
        if target in out:
            raise InputError(f"config key '{key}.columns': {out[target]!r} and {user!r} both map to {target!r}")
        out[target] = user
    return {c.name: out.get(c.name, c.name) for c in columns(table)}


def check_table(spec: dict, sample: str, table: str, key: str) -> tuple[list[str], dict[str, str], dict[str, bool]]:
    """Check the files of one table; returns (files, schema -> source name, schema -> present).

    Raises :class:`InputError` for a missing file or tree, a missing needed column
    (naming the file, the tree and the column), a column of the wrong type, or an
    empty candidate tree."""
    files = expand_files(spec["files"], f"{key}.files")
    names = source_names(spec, table, key)
    tree = spec.get("tree")
    present: dict[str, bool] = {}
    for path in files:
        file_format(path)
        kinds, n_entries = file_columns(path, tree, key)
        if n_entries == 0 and table == "candidates":
            raise InputError(f"{_where(path, tree)}: empty (no entries); config key '{key}'")
        for col in columns(table):
            src = names[col.name]
            if src not in kinds:
                if needed(col, sample):
                    mapped = f" (mapped from {src!r})" if src != col.name else ""
                    raise InputError(f"{_where(path, tree)}: missing column {src!r} for schema column "
                                     f"{col.name!r}{mapped} ({table} of {key})")
                if present.get(col.name):
                    raise InputError(f"{_where(path, tree)}: column {src!r} is missing here but present in "
                                     f"{files[0]!r}; all files of {key} need the same columns")
                present[col.name] = False
                continue
            kind = kinds[src]
            if kind not in ACCEPTED_KINDS[col.dtype] or len(kind) != 1:
                found = kind if len(kind) > 1 else f"numpy kind {kind!r}"
                raise InputError(f"{_where(path, tree)}: column {src!r} has type {found}; schema column "
                                 f"{col.name!r} needs {col.dtype} ({table} of {key})")
            if present.get(col.name) is False:
                raise InputError(f"{_where(path, tree)}: column {src!r} is present here but missing in "
                                 f"{files[0]!r}; all files of {key} need the same columns")
            present[col.name] = True
    return files, names, present


def read_table(spec: dict, table: str, files: list[str], names: dict[str, str], present: dict[str, bool],
               key: str, only=None) -> dict[str, np.ndarray]:
    """Present schema columns (all, or those in ``only``) of all files, concatenated, by schema name."""
    wanted = [c for c in columns(table) if present.get(c.name) and (only is None or c.name in only)]
    parts = [read_file_columns(path, spec.get("tree"), [names[c.name] for c in wanted], key) for path in files]
    return {c.name: np.concatenate([p[names[c.name]] for p in parts]) for c in wanted}


# ----------------------------------------------------------------------- metadata


def check_metadata(mode: str, sample: str, spec: dict, present: dict[str, bool], key: str) -> list[dict]:
    """The metadata components; raises :class:`InputError` for inconsistent metadata."""
    comps = (spec.get("metadata") or {}).get("components") or []
    mkey = f"{key}.metadata.components"
    if not comps:
        raise InputError(f"config key '{mkey}': at least one component with n_generated is needed")
    for i, comp in enumerate(comps):
        n_gen = comp.get("n_generated")
        if isinstance(n_gen, bool) or not isinstance(n_gen, int) or n_gen < 0:
            raise InputError(f"config key '{mkey}.{i}.n_generated': must be an integer >= 0, got {n_gen!r}")
        if ("cross_section_pb" in comp) != ("luminosity_fb" in comp):
            raise InputError(f"config key '{mkey}.{i}': cross_section_pb and luminosity_fb go together")
        if "cross_section_pb" in comp and n_gen == 0:
            raise InputError(f"config key '{mkey}.{i}.n_generated': must be > 0 to turn a cross section into weights")
        if "cross_section_pb" in comp and present["weight"]:
            raise InputError(f"config key '{mkey}.{i}.cross_section_pb': the ntuple has a weight column too; "
                             f"give either the weight column or cross section and luminosity")
        if sample in MASS_SAMPLES and "m_a_gev" not in comp:
            raise InputError(f"config key '{mkey}.{i}.m_a_gev': needed for every component of {sample}")
        if sample == "signal_longlived" and "ctau_mm" not in comp:
            raise InputError(f"config key '{mkey}.{i}.ctau_mm': needed for every component of signal_longlived")
    if sample == "signal_prompt":
        masses = [c["m_a_gev"] for c in comps]
        if len(set(masses)) != len(masses):
            raise InputError(f"config key '{mkey}': signal_prompt components need distinct m_a_gev, got {masses}")
    if len(comps) > 1 and not present["component"]:
        raise InputError(f"config key '{mkey}': {len(comps)} components but the ntuple has no component column "
                         f"(map one to 'component')")
    return comps


def _component_counts(component: np.ndarray, comps: list[dict], key: str) -> np.ndarray:
    """Rows per component; raises for an index outside the metadata or more rows than generated."""
    component = np.asarray(component)
    bad = (component < 0) | (component >= len(comps))
    if bad.any():
        raise InputError(f"{key}: column component has values {sorted(set(component[bad].tolist()))[:5]} outside "
                         f"0..{len(comps) - 1} (the metadata lists {len(comps)} components)")
    counts = np.bincount(component.astype(np.int64), minlength=len(comps))
    for i, (n, comp) in enumerate(zip(counts, comps)):
        if n > comp["n_generated"]:
            raise InputError(f"config key '{key}.metadata.components.{i}.n_generated': {comp['n_generated']} "
                             f"generated but the ntuple has {n} candidates of this component")
    return counts


# --------------------------------------------------------------------- full check


def check_input(mode: str, sample: str, spec: dict) -> dict:
    """Check one external sample completely (files, columns, types, metadata, ids).

    Returns what the import needs: ``{table: (files, names, present)}`` plus
    ``components``.  Reads only the headers and the ``event_id``/``component`` columns.
    """
    key = f"inputs.{mode}.{sample}"
    out = {}
    for table in TABLES:
        if table not in spec:
            raise InputError(f"config key '{key}.{table}': missing (files, tree and columns of the {table} table)")
        out[table] = check_table(spec[table], sample, table, f"{key}.{table}")
    comps = check_metadata(mode, sample, spec, out["candidates"][2], key)
    cand = read_table(spec["candidates"], "candidates", *out["candidates"], f"{key}.candidates",
                      only=("event_id", "component"))
    ids = cand["event_id"]
    if np.unique(ids).size != ids.size:
        raise InputError(f"{key}.candidates: event_id is not unique (one best candidate per event expected) in "
                         f"{out['candidates'][0]}")
    if "component" in cand:
        _component_counts(cand["component"], comps, key)
    elif len(ids) > comps[0]["n_generated"]:
        raise InputError(f"config key '{key}.metadata.components.0.n_generated': {comps[0]['n_generated']} "
                         f"generated but the ntuple has {len(ids)} candidates")
    pair_ids = read_table(spec["pairs"], "pairs", *out["pairs"], f"{key}.pairs", only=("event_id",))["event_id"]
    orphans = np.setdiff1d(pair_ids, ids)
    if orphans.size:
        raise InputError(f"{key}.pairs: {orphans.size} event_id values of the pair table ({out['pairs'][0]}) are "
                         f"not in the candidate table, e.g. {orphans[:3].tolist()}")
    out["components"] = comps
    return out


def check_inputs(inputs: dict, modes, samples) -> None:
    """Check every configured external sample (raises :class:`InputError` at the first problem)."""
    for mode, per_sample in (inputs or {}).items():
        if mode not in modes:
            raise InputError(f"config key 'inputs.{mode}': not an analysed mode (modes: {list(modes)})")
        for sample, spec in per_sample.items():
            if sample not in samples:
                raise InputError(f"config key 'inputs.{mode}.{sample}': unknown sample; expected one of {list(samples)}")
            check_input(mode, sample, spec)


def input_files(spec: dict) -> list[str]:
    """Every file of one external sample (the import job's inputs)."""
    return sorted({path for table in TABLES for path in expand_files(spec[table]["files"], table)})


# ------------------------------------------------------------------------- import


def _cast(values: np.ndarray, col: Column, key: str) -> np.ndarray:
    if col.dtype == "bool" and values.dtype.kind != "b":
        if not np.isin(values, (0, 1)).all():
            raise InputError(f"{key}: column for {col.name!r} has values other than 0/1 (needs bool)")
    return values.astype(col.dtype)


def _frame(table: str, data: dict[str, np.ndarray], fills: dict[str, np.ndarray], n: int, key: str) -> pd.DataFrame:
    cols = {}
    for col in columns(table):
        if col.name in data:
            cols[col.name] = _cast(data[col.name], col, key)
        elif col.name in fills:
            cols[col.name] = np.asarray(fills[col.name]).astype(col.dtype)
        else:
            cols[col.name] = np.full(n, col.fill, dtype=col.dtype)
    return pd.DataFrame(cols)


def sample_tag(mode: str, sample: str) -> int:
    """The generator's per-sample id tag (upper 32 bits of ``uid``)."""
    return zlib.crc32(f"{mode}/{sample}".encode()) & 0x7FFFFFFF


def import_sample(mode: str, sample: str, spec: dict):
    """Read one external sample: (candidates DataFrame, pairs DataFrame, metadata dict),
    the same layout as :func:`alpscan.generation.run.generate_sample`."""
    key = f"inputs.{mode}.{sample}"
    checked = check_input(mode, sample, spec)
    comps = checked["components"]
    cand = read_table(spec["candidates"], "candidates", *checked["candidates"], f"{key}.candidates")
    n = cand["event_id"].size
    component = cand["component"].astype(np.int64) if "component" in cand else np.zeros(n, np.int64)
    fills = {"component": component,
             "uid": (np.int64(sample_tag(mode, sample)) << 32) + cand["event_id"].astype(np.int64),
             "ctau_mm": np.array([float(c.get("ctau_mm", 0.0)) for c in comps])[component]}
    weights = np.array([c["cross_section_pb"] * c["luminosity_fb"] * 1e3 / c["n_generated"]
                        if "cross_section_pb" in c else 1.0 for c in comps])
    fills["weight"] = weights[component]
    candidates = _frame("candidates", cand, fills, n, f"{key}.candidates")
    pair_data = read_table(spec["pairs"], "pairs", *checked["pairs"], f"{key}.pairs")
    pairs = _frame("pairs", pair_data, {}, pair_data["event_id"].size, f"{key}.pairs")
    counts = np.bincount(component, minlength=len(comps))
    meta_comps = []
    for i, comp in enumerate(comps):
        entry = {"n_generated": int(comp["n_generated"]), "n_selected": int(counts[i]),
                 "ctau_mm": float(comp.get("ctau_mm", 0.0))}
        if "m_a_gev" in comp:
            entry["m_a"] = float(comp["m_a_gev"])
        if "label" in comp:
            entry["component"] = str(comp["label"])
        if "cross_section_pb" in comp:
            entry |= {"cross_section_pb": comp["cross_section_pb"], "luminosity_fb": comp["luminosity_fb"],
                      "weight": float(weights[i])}
        meta_comps.append(entry)
    meta = {"mode": mode, "sample": sample, "source": "external", "data": sample in DATA_SAMPLES,
            "files": {t: checked[t][0] for t in TABLES}, "components": meta_comps}
    return candidates, pairs, meta
