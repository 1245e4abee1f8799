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
        elif isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            # Snakemake keeps a value it cannot parse as the raw string: say why
            try:
                yaml.safe_load(value)
            except yaml.YAMLError as err:
                detail = " ".join(str(err).split())
                raise ConfigError(f"config key '{key}': the --config value {value!r} is not valid YAML: {detail}") from None


def _looks_like_number(text: str) -> bool:
    """True for strings such as '1e-3' that YAML 1.1 reads as strings, not floats."""
    try:
        float(text)
    except ValueError:
        return False
    return True


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
        if err.validator == "type" and isinstance(err.instance, str) and _looks_like_number(err.instance):
            msg += " (YAML reads numbers like 1e-3 without a decimal point as strings: write 1.0e-3)"
        problems.append(f"config key '{path or '<top level>'}': {msg}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_cores(cores, *, local: bool) -> None:
    """Refuse ``--cores 0`` for a local run with jobs to run (the Snakefile calls this
    in ``onstart``, which dry runs and runs with nothing to do skip): no job could ever
    start and Snakemake would wait at "Select jobs to execute..." forever.  Cluster
    executors (their ``--jobs`` limit applies) are not affected."""
    if local and cores is not None and int(cores) < 1:
        raise ConfigError(
            f"--cores {cores}: no job can run with fewer than 1 core (Snakemake would wait "
            "forever at 'Select jobs to execute...'); give --cores N with N >= 1, e.g. "
            "--cores 2, or -n for a dry run"
        )


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` for inconsistent configuration values."""
    modes = config["modes"]
    if len(set(modes)) != len(modes):
        _fail("modes", f"duplicate entries in {modes}")
    gen = config["generation"]
    grid = gen["signal"]["mass_grid"]
    if not grid["m_min_gev"] < min(grid["m_max_k_gev"], grid["m_max_kstar_gev"]):
        _fail("generation.signal.mass_grid.m_min_gev", "must be below m_max_k_gev and m_max_kstar_gev")
    if gen["events_per_chunk"] < gen["chunk_size"]:
        _fail("generation.events_per_chunk", f"must be >= generation.chunk_size ({gen['chunk_size']}): a job "
              "holds whole random-number blocks")
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
    _check_ordered_pairs(config)
    _check_mass_ranges(config)
    _check_counts(config)


#: Two-element ``[low, high]`` config keys whose low edge must be below the high one.
_ORDERED_PAIRS = (
    "generation.model.xsgamma_mass_range",
    "generation.model.jet_mass_range_gev",
    "generation.model.comb_kstar_mass_range",
    "detector.ks_flight_mm",
    "control.eta_window_gev",
)


def _get(config: dict, key: str):
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def _check_ordered_pairs(config: dict) -> None:
    """``[low, high]`` keys and the scan's veto windows are increasing pairs."""
    for key in _ORDERED_PAIRS:
        lo, hi = _get(config, key)
        if not lo < hi:
            _fail(key, f"lower edge {lo} must be below the upper edge {hi}")
    for i, (lo, hi) in enumerate(config["scan"]["vetoes_gev"]):
        if not lo < hi:
            _fail(f"scan.vetoes_gev[{i}]", f"lower edge {lo} must be below the upper edge {hi}")


def _scan_stop_key(mode: str) -> str:
    return "m_stop_k_gev" if mode in ("Kp", "K0S") else "m_stop_kstar_gev"


def _grid_max_key(mode: str) -> str:
    return "m_max_k_gev" if mode in ("Kp", "K0S") else "m_max_kstar_gev"


def _check_mass_ranges(config: dict) -> None:
    """Every ALP mass of the configuration lies inside what the run can use: the scan
    inside the generated signal mass grid (the signal model is interpolated, never
    extrapolated) and the grid inside the kinematic range m_a < m_B − m_K(*) of every
    analysed mode; the scan starts below where it stops; the chosen masses of the
    toy-based CLs, the fidelity report, the long-lived samples and an injected signal
    lie inside the scan (or grid) of every analysed mode."""
    from alpscan.physics.alp import kinematic_endpoint

    scan = config["scan"]
    sig = config["generation"]["signal"]
    grid = sig["mass_grid"]
    prefix = "generation.signal.mass_grid."
    modes = list(config["modes"])
    for mode in modes:
        stop_key, max_key = _scan_stop_key(mode), _grid_max_key(mode)
        endpoint = kinematic_endpoint(mode)
        if not grid[max_key] < endpoint:
            _fail(prefix + max_key, f"{grid[max_key]} GeV is not below the kinematic endpoint "
                  f"m_B - m_K(*) = {endpoint:.4f} GeV of mode {mode}")
        if not scan["m_start_gev"] < scan[stop_key]:
            _fail("scan.m_start_gev", f"{scan['m_start_gev']} GeV must be below scan.{stop_key} "
                  f"({scan[stop_key]} GeV, used by mode {mode})")
        if scan["m_start_gev"] < grid["m_min_gev"]:
            _fail("scan.m_start_gev", f"{scan['m_start_gev']} GeV is below the signal mass grid "
                  f"({prefix}m_min_gev = {grid['m_min_gev']} GeV): the signal model is not extrapolated")
        if scan[stop_key] > grid[max_key]:
            _fail(f"scan.{stop_key}", f"{scan[stop_key]} GeV is above the signal mass grid "
                  f"({prefix}{max_key} = {grid[max_key]} GeV): the signal model is not extrapolated")
        if not sig["uniform_m_min_gev"] < grid[max_key]:
            _fail("generation.signal.uniform_m_min_gev", f"must be below {prefix}{max_key} "
                  f"({grid[max_key]} GeV)")
    for mode in modes:
        stop_key = _scan_stop_key(mode)
        for i, m in enumerate(config["toy_cls"]["masses_gev"]):
            if not scan["m_start_gev"] <= m <= scan[stop_key]:
                _fail(f"toy_cls.masses_gev[{i}]", f"{m} GeV is outside the scan of mode {mode} "
                      f"(scan.m_start_gev {scan['m_start_gev']} .. scan.{stop_key} {scan[stop_key]} GeV)")
    grid_lo = grid["m_min_gev"]
    grid_hi = min(grid[_grid_max_key(m)] for m in modes)
    for i, m in enumerate(config["fidelity"]["masses_gev"]):
        if not grid_lo <= m <= max(grid[_grid_max_key(mode)] for mode in modes):
            _fail(f"fidelity.masses_gev[{i}]", f"{m} GeV is outside the signal mass grid "
                  f"({grid_lo} .. {max(grid[_grid_max_key(mode)] for mode in modes)} GeV)")
    if not any(m < grid_hi for m in sig["long_lived"]["masses_gev"]):
        _fail("generation.signal.long_lived.masses_gev", f"needs at least one mass below the "
              f"upper end of the signal mass grid of every mode ({grid_hi} GeV)")
    inj = config["generation"]["inject"]
    if inj["enabled"]:
        for mode in modes:
            endpoint = kinematic_endpoint(mode)
            if not 0 < inj["m_a_gev"] < endpoint:
                _fail("generation.inject.m_a_gev", f"{inj['m_a_gev']} GeV is outside the kinematic "
                      f"range of mode {mode} (0 .. {endpoint:.4f} GeV)")


def _check_counts(config: dict) -> None:
    """The B-meson fractions f+- and f00 add up to at most 1."""
    phys = config["physics"]
    if phys["f_charged"] + phys["f_neutral"] > 1.0 + 1e-9:
        _fail("physics.f_neutral", f"f_charged + f_neutral = {phys['f_charged'] + phys['f_neutral']:.6g} exceeds 1")


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
