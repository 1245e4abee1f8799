"""Semantic configuration checks beyond the JSON schema (``config/schema.yaml``).

The schema checks types, ranges and unknown keys; :func:`check_config` checks the
relations between keys.  Each problem raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import yaml


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _fail(key: str, why: str):
    raise ConfigError(f"config key '{key}': {why}")


def retype_command_line_config(config: dict, overrides) -> None:
    """Re-read the nested ``--config`` values that Snakemake left as strings.

    ``snakemake --config 'toys={n_toys: 10000}'`` parses the value with YAML's
    ``BaseLoader``, so every nested leaf is a string (``'10000'``).  Each such leaf of
    ``overrides`` (``workflow.config_settings.config``) that still stands unchanged in
    ``config`` is re-read with YAML's safe loader, the same rules as a config file:
    ``'10000'`` becomes 10000, ``'0.5'`` 0.5, ``'true'`` True, while ``'1e-3'`` stays a
    string exactly as it would in a YAML file (and is then rejected by the schema with
    a message naming the key).  Top-level values are left alone (Snakemake already
    converts them).  ``config`` is modified in place.
    """

    def walk(node, over):
        if isinstance(over, dict) and isinstance(node, dict):
            for key, value in over.items():
                if key not in node:
                    continue
                if isinstance(value, str) and node[key] == value:
                    node[key] = yaml.safe_load(value)
                else:
                    walk(node[key], value)
        elif isinstance(over, list) and isinstance(node, list) and len(over) == len(node):
            for i, value in enumerate(over):
                if isinstance(value, str) and node[i] == value:
                    node[i] = yaml.safe_load(value)
                else:
                    walk(node[i], value)

    for key, value in dict(overrides).items():
        if isinstance(value, (dict, list)) and key in config:
            walk(config[key], value)


def validate_config(config: dict, schema: dict) -> None:
    """Validate ``config`` against the JSON ``schema``; raise :class:`ConfigError`
    listing every problem as ``config key 'a.b.c': message`` (no schema dump)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                problems.append(f"config key '{'.'.join(filter(None, [path, key]))}': unknown key")
            continue
        if err.validator == "required":
            missing = err.message.split("'")[1]
            problems.append(f"config key '{'.'.join(filter(None, [path, missing]))}': missing")
            continue
        msg = err.message
        if err.validator == "type" and isinstance(err.instance, str):
            msg += " (YAML reads numbers like 1e-3 without a decimal point as strings: write 1.0e-3)"
        problems.append(f"config key '{path or '<top level>'}': {msg}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` for inconsistent configuration values."""
    modes = config["modes"]
    if len(set(modes)) != len(modes):
        _fail("modes", f"duplicate entries in {modes}")
    gen = config["generation"]
    grid = gen["signal"]["mass_grid"]
    if not grid["m_min_gev"] < min(grid["m_max_k_gev"], grid["m_max_kstar_gev"]):
        _fail("generation.signal.mass_grid.m_min_gev", "must be below m_max_k_gev and m_max_kstar_gev")
    box, pre = gen["model"]["box"], config["preselection"]
    if pre["mbc_min"] < box["mbc_min"]:
        _fail("preselection.mbc_min", f"must be >= generation.model.box.mbc_min ({box['mbc_min']})")
    if pre["de_min"] < box["de_min"] or pre["de_max"] > box["de_max"]:
        _fail("preselection.de_min", "the Delta E window must lie inside generation.model.box")
    if pre["de_min"] >= pre["de_max"]:
        _fail("preselection.de_min", "must be below preselection.de_max")
    if pre["mbc_min"] >= 0.5 * config["beam"]["sqrt_s_gev"]:
        _fail("preselection.mbc_min", "must be below the beam energy sqrt_s_gev/2")
    lo, hi = config["detector"]["kstar_mass_window_gev"]
    if lo >= hi:
        _fail("detector.kstar_mass_window_gev", "lower edge must be below the upper edge")
    t_lo, t_hi = config["detector"]["track_theta_deg"]
    if t_lo >= t_hi:
        _fail("detector.track_theta_deg", "lower edge must be below the upper edge")
    m_lo, m_hi = gen["model"]["b_multiplicity"]
    if m_lo > m_hi:
        _fail("generation.model.b_multiplicity", "minimum exceeds maximum")
    inj = gen["inject"]
    if inj["enabled"] and inj["branching_fraction"] <= 0:
        _fail("generation.inject.branching_fraction", "must be > 0 when inject.enabled is true")
    fid = config["fidelity"]
    if len(fid["masses_gev"]) != len(fid["paper_sigma_r_mev"]):
        _fail("fidelity.paper_sigma_r_mev", "needs one value per entry of fidelity.masses_gev")


def _resolve(node: dict, schema: dict) -> dict:
    """Follow a local ``$ref`` (``#/definitions/...``), keeping local descriptions."""
    if "$ref" in node:
        target = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_rows(schema: dict, node: dict | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Flatten the config schema into (key, type, range/default, description) rows."""
    node = _resolve(schema if node is None else node, schema)
    rows = []
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(sub, schema)
        path = f"{prefix}{key}"
        typ = sub.get("type", "")
        if typ == "array" and "items" in sub:
            item = _resolve(sub["items"], schema)
            typ = f"array of {item.get('type', '')}"
            if "enum" in item:
                typ += f" ({', '.join(map(str, item['enum']))})"
        limits = []
        for name, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if name in sub:
                limits.append(f"{sym} {sub[name]}")
        if "default" in sub:
            limits.append(f"default {sub['default']}")
        rows.append((path, typ, "; ".join(limits), sub.get("description", "")))
        if sub.get("type") == "object":
            rows.extend(schema_rows(schema, sub, prefix=f"{path}."))
    return rows


def schema_markdown(schema: dict) -> str:
    """The key reference of ``config/README.md``, generated from the schema."""
    lines = ["| key | type | range / default | description |", "| --- | --- | --- | --- |"]
    for key, typ, lim, desc in schema_rows(schema):
        lines.append(f"| `{key}` | {typ} | {lim} | {desc} |")
    return "\n".join(lines) + "\n"


CONFIG_README_HEADER = """# Configuration

`config.yaml` is the default run (the paper's luminosities); `test.yaml` is a small run
for tests and CI, merged on top of it (`snakemake --configfile config/test.yaml`).
`schema.yaml` (JSON Schema) validates every run before any job starts: wrong types,
out-of-range values, unknown keys and strings where numbers are expected (YAML reads
`1e-3` without a dot as a string) stop the run with a message naming the key.
Relations between keys are checked by `alpscan.configuration.check_config`.

Tags in the descriptions: [P] from the paper, [W] world average or detector fact,
[T] toy choice (the paper's value is not available).

Change one value on the command line, e.g. a Belle II-like projection:

```bash
snakemake --cores 2 --config 'luminosity={"on_resonance_fb": 50000, "off_resonance_fb": 5000}'
```

Only the jobs that use the changed keys rerun (rules get their configuration slice
through `params:`).

## Keys

The table is generated from `schema.yaml` (a test keeps them in sync):

"""


def config_readme(schema: dict) -> str:
    """Full text of ``config/README.md`` (regenerate with
    ``python -m alpscan.configuration config/schema.yaml > config/README.md``)."""
    return CONFIG_README_HEADER + schema_markdown(schema)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    import sys

    import yaml

    print(config_readme(yaml.safe_load(open(sys.argv[1]))), end="")
