"""Helpers of the external-ntuple tests: a generated sample written as a user's ROOT file
with other column names, and the matching ``inputs`` configuration."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pandas as pd
import uproot

CAND_PREFIX = "B_"  # the "user's" candidate branch names: B_<schema name>
PAIR_PREFIX = "gg_"  # the "user's" pair branch names: gg_<schema name>
CAND_TREE, PAIR_TREE = "B2Kgg", "photon_pairs"


def write_root_sample(cands: pd.DataFrame, pairs: pd.DataFrame, path, drop=()) -> None:
    """Both tables of one sample in one ROOT file, branches renamed with the prefixes;
    the columns in ``drop`` (schema names) are left out."""
    write_trees(path, {CAND_TREE: {CAND_PREFIX + k: v for k, v in cands.items() if k not in drop},
                       PAIR_TREE: {PAIR_PREFIX + k: v for k, v in pairs.items() if k not in drop}})


def write_trees(path, trees: dict) -> None:
    """TTrees {name: {branch: array}} in a new ROOT file (numpy or awkward arrays)."""
    with uproot.recreate(str(path)) as f:
        for name, branches in trees.items():
            arrays = {k: v if isinstance(v, ak.Array) else np.ascontiguousarray(v) for k, v in branches.items()}
            types = {k: v.type.content if isinstance(v, ak.Array) else v.dtype for k, v in arrays.items()}
            tree = f.mktree(name, types)
            if any(len(v) for v in arrays.values()):
                tree.extend(arrays)


def input_spec(files: str, cands: pd.DataFrame, pairs: pd.DataFrame, meta: dict) -> dict:
    """The ``inputs.<mode>.<sample>`` entry reading :func:`write_root_sample`'s file back,
    with the generator's metadata (n_generated, ALP mass, cτ, component label)."""
    comps = []
    for comp in meta["components"]:
        entry = {"n_generated": int(comp["n_generated"])}
        if isinstance(comp.get("m_a"), float) and comp.get("kind") == "signal":
            entry["m_a_gev"] = comp["m_a"]
        if comp.get("kind") == "signal":
            entry["ctau_mm"] = float(comp["ctau_mm"])
        if "component" in comp:
            entry["label"] = comp["component"]
        comps.append(entry)
    return {
        "candidates": {"files": files, "tree": CAND_TREE, "columns": {CAND_PREFIX + k: k for k in cands}},
        "pairs": {"files": files, "tree": PAIR_TREE, "columns": {PAIR_PREFIX + k: k for k in pairs}},
        "metadata": {"components": comps},
    }
