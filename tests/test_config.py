"""Configuration: schema, documentation and bad-input handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from alpscan.configuration import ConfigError, check_config, config_readme, schema_rows

from .conftest import ROOT, deep_update


@pytest.fixture(scope="module")
def schema():
    return yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())


def test_default_and_test_configs_validate(schema, default_config, test_config):
    jsonschema.validate(default_config, schema)
    jsonschema.validate(test_config, schema)
    check_config(default_config)
    check_config(test_config)


def test_every_key_has_type_description_and_default(schema):
    rows = schema_rows(schema)
    assert len(rows) > 100
    has_default = {key for key, _, limits, _ in rows if "default" in limits}
    for key, typ, limits, desc in rows:
        assert typ, key
        assert desc, key
        # a default on the key itself or on the object that contains it
        parents = [key.rsplit(".", k)[0] for k in range(key.count(".") + 1)]
        assert any(p in has_default for p in parents), key


def test_schema_defaults_equal_default_config(schema, default_config):
    def walk(node, cfg, path=""):
        required = set(node.get("required", []))
        for key, sub in node.get("properties", {}).items():
            if key not in cfg:  # optional keys (e.g. scan.constraint_rel.pi0) need no value
                assert key not in required, f"{path}{key}"
                continue
            assert sub["default"] == cfg[key], f"{path}{key}"
            if sub.get("type") == "object":
                walk(sub, cfg[key], f"{path}{key}.")

    walk(schema, default_config)


def test_config_readme_is_generated_from_schema(schema):
    readme = (ROOT / "config" / "README.md").read_text()
    assert readme == config_readme(schema)


def test_check_config_names_the_key(default_config):
    bad = deep_update(default_config, {"preselection": {"de_min": 0.05, "de_max": 0.01}})
    with pytest.raises(ConfigError, match="preselection.de_min"):
        check_config(bad)


# Each bad config must stop Snakemake before any job runs, naming the key.
BAD_CONFIGS = {
    "wrong_type": ("luminosity:\n  on_resonance_fb: lots\n", "luminosity.on_resonance_fb"),
    "negative_luminosity": ("luminosity:\n  on_resonance_fb: -711.0\n", "luminosity.on_resonance_fb"),
    "unknown_mode": ("modes: [Kp, Kpi]\n", "modes.1"),
    "float_read_as_string": ("physics:\n  xsgamma_bf: 3e-4\n", "physics.xsgamma_bf"),
    "unknown_top_level_key": ("lumi: 711\n", "lumi"),
    "unknown_nested_key": ("generation:\n  signal:\n    n_per_mas: 10\n", "generation.signal.n_per_mas"),
    "out_of_range_fraction": ("physics:\n  f_charged: 1.5\n", "physics.f_charged"),
    "seed_not_integer": ("seed: 1.5\n", "seed"),
    "grid_too_small": ("generation:\n  signal:\n    mass_grid: {n_k: 1}\n", "generation.signal.mass_grid.n_k"),
    "duplicate_mode": ("modes: [Kp, Kp]\n", "modes"),
    "inverted_window": ("detector:\n  kstar_mass_window_gev: [1.0, 0.8]\n", "detector.kstar_mass_window_gev"),
    "box_outside_generation": ("preselection:\n  mbc_min: 5.20\n", "preselection.mbc_min"),
    "negative_seed": ("seed: -3\n", "seed"),
    "missing_key": (None, "luminosity"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_stops_before_any_job(name, tmp_path, default_config):
    text, key = BAD_CONFIGS[name]
    cfgfile = tmp_path / "bad.yaml"
    if text is None:  # a complete config file with one required section removed
        cfg = dict(default_config)
        del cfg["luminosity"]
        cfgfile.write_text(yaml.safe_dump(cfg))
        args = ["--configfiles", str(cfgfile)]  # replaces the default config file
    else:  # the default config with one bad value on top
        cfgfile.write_text(text)
        args = ["--configfiles", str(ROOT / "config" / "config.yaml"), str(cfgfile)]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
         "--snakefile", str(ROOT / "Snakefile"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"config key '{key}" in out or f"config key '{key.split('.')[0]}" in out, out
    assert "Failed validating" not in out, out  # our concise message comes first
    assert "Job stats" not in out and "rule generate_sample" not in out, out
    assert not (tmp_path / "results").exists()


def test_nested_command_line_values_are_read_as_yaml():
    """snakemake --config 'toys={n_toys: 50}' gives strings; they are re-read as YAML."""
    from alpscan.configuration import retype_command_line_config

    config = {"toys": {"n_toys": "50", "n_chunks": 4}, "limits": {"cl": "0.95"},
              "modes": ["Kp"], "x": {"tiny": "1e-3", "flag": "true", "kept": "abc"}}
    overrides = {"toys": {"n_toys": "50"}, "limits": {"cl": "0.95"},
                 "x": {"tiny": "1e-3", "flag": "true", "kept": "abc"}}
    retype_command_line_config(config, overrides)
    assert config["toys"] == {"n_toys": 50, "n_chunks": 4}
    assert config["limits"]["cl"] == 0.95
    # exactly the YAML-file rules: 1e-3 stays a string (the schema then names the key)
    assert config["x"] == {"tiny": "1e-3", "flag": True, "kept": "abc"}


def test_nested_command_line_config_in_a_dry_run():
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile",
           "config/test.yaml", "--config", "toys={n_toys: 50, n_chunks: 2}"]
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = subprocess.run(cmd[:-1] + ["toys={n_toys: -5, n_chunks: 2}"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "toys.n_toys" in bad.stdout + bad.stderr


# Relations between keys, checked before any job runs (issue 20): each case names the key.
BAD_RELATIONS = {
    "scan_start_after_stop": ({"scan": {"m_start_gev": 3.0, "m_stop_k_gev": 2.0}}, "scan.m_start_gev"),
    "scan_start_after_kstar_stop": ({"scan": {"m_start_gev": 4.0, "m_stop_kstar_gev": 3.9}}, "scan.m_start_gev"),
    "scan_below_signal_grid": ({"scan": {"m_start_gev": 0.12}}, "scan.m_start_gev"),
    "scan_above_signal_grid": ({"scan": {"m_stop_k_gev": 4.6}}, "scan.m_stop_k_gev"),
    "kstar_scan_above_grid": ({"scan": {"m_stop_kstar_gev": 4.25}}, "scan.m_stop_kstar_gev"),
    "grid_above_kinematic_endpoint": (
        {"generation": {"signal": {"mass_grid": {"m_max_k_gev": 4.79}}}, "scan": {"m_stop_k_gev": 4.5}},
        "generation.signal.mass_grid.m_max_k_gev"),
    "inverted_veto": ({"scan": {"vetoes_gev": [[0.497, 0.578], [0.997, 0.938]]}}, r"scan.vetoes_gev\[1\]"),
    "inverted_eta_window": ({"control": {"eta_window_gev": [0.65, 0.45]}}, "control.eta_window_gev"),
    "inverted_xsgamma_range": ({"generation": {"model": {"xsgamma_mass_range": [2.8, 1.0]}}},
                               "generation.model.xsgamma_mass_range"),
    "inverted_ks_flight": ({"detector": {"ks_flight_mm": [600.0, 1.0]}}, "detector.ks_flight_mm"),
    "job_chunk_below_block": ({"generation": {"events_per_chunk": 1000}}, "generation.events_per_chunk"),
    "toy_cls_mass_outside_kstar_scan": ({"toy_cls": {"masses_gev": [1.0, 4.4]}}, r"toy_cls.masses_gev\[1\]"),
    "fidelity_mass_outside_grid": ({"fidelity": {"masses_gev": [0.05, 1.9, 4.5]}}, r"fidelity.masses_gev\[0\]"),
    "b_fractions_above_one": ({"physics": {"f_charged": 0.6}}, "physics.f_neutral"),
    "uniform_signal_above_grid": (
        {"generation": {"signal": {"uniform_m_min_gev": 3.9, "mass_grid": {"m_max_kstar_gev": 3.8}}},
         "scan": {"m_stop_kstar_gev": 3.8}}, "generation.signal.uniform_m_min_gev"),
    "injected_mass_beyond_endpoint": (
        {"generation": {"inject": {"enabled": True, "m_a_gev": 4.5, "branching_fraction": 1e-6}}},
        "generation.inject.m_a_gev"),
}


@pytest.mark.parametrize("name", sorted(BAD_RELATIONS))
def test_check_config_catches_relations_between_keys(name, schema, default_config, test_config):
    change, key = BAD_RELATIONS[name]
    for base in (default_config, test_config):
        bad = deep_update(base, change)
        if name != "grid_above_kinematic_endpoint":  # (the schema's maximum catches this one too)
            jsonschema.validate(bad, schema)  # each value alone is allowed: only the relation is wrong
        with pytest.raises(ConfigError, match=f"config key '{key}'"):
            check_config(bad)


def test_relation_error_in_a_dry_run_names_the_keys():
    """The issue's case: m_start above m_stop failed inside scan_points naming no key."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", "config/test.yaml",
           "--config", "scan={m_start_gev: 3.0, m_stop_k_gev: 2.0}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'scan.m_start_gev'" in out and "scan.m_stop_k_gev" in out, out[-2000:]


def test_unparsable_command_line_value_is_a_yaml_error():
    from alpscan.configuration import retype_command_line_config

    config = {"toys": "{n_toys: 5", "modes": "[Kp, K0S"}
    with pytest.raises(ConfigError, match=r"config key 'toys': the --config value '\{n_toys: 5' is not valid YAML"):
        retype_command_line_config(config, {"toys": "{n_toys: 5"})
    with pytest.raises(ConfigError, match="config key 'modes'.*not valid YAML"):
        retype_command_line_config(config, {"modes": "[Kp, K0S"})
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", "config/test.yaml",
           "--config", "toys={n_toys: 5"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "not valid YAML" in out and "is not of type" not in out, out[-2000:]


def test_number_hint_only_where_it_explains_the_error(schema, default_config):
    from alpscan.configuration import validate_config

    hint = "YAML reads numbers like 1e-3"
    with pytest.raises(ConfigError) as err:
        validate_config(deep_update(default_config, {"physics": {"xsgamma_bf": "3e-4"}}), schema)
    assert "physics.xsgamma_bf" in str(err.value) and hint in str(err.value)
    for change, key in (({"modes": "Kp"}, "modes"), ({"luminosity": {"on_resonance_fb": "lots"}}, "luminosity")):
        with pytest.raises(ConfigError) as err:
            validate_config(deep_update(default_config, change), schema)
        assert key in str(err.value) and hint not in str(err.value)


def test_zero_cores_refused_before_any_job(tmp_path):
    """`--cores 0` with work to do used to wait forever at "Select jobs to execute..."."""
    from alpscan.configuration import check_cores

    with pytest.raises(ConfigError, match="--cores 0"):
        check_cores(0, local=True)
    check_cores(0, local=False)  # a cluster executor: --jobs limits the jobs
    check_cores(2, local=True)
    check_cores(None, local=True)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "0", "--directory", str(tmp_path), "--snakefile",
           str(ROOT / "Snakefile"), "--configfiles", str(ROOT / "config" / "config.yaml"),
           str(ROOT / "config" / "test.yaml")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "--cores 0: no job can run" in out, out[-2000:]
    assert not (tmp_path / "results").exists()
    dry = subprocess.run(cmd + ["-n", "--quiet", "rules"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-2000:]  # a dry run needs no cores
