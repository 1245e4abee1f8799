"""Shared fixtures: the default and test configurations, merged as Snakemake does."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def deep_update(base: dict, extra: dict) -> dict:
    """Recursive dict update (Snakemake's --configfile merge)."""
    out = copy.deepcopy(base)
    for key, val in extra.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


@pytest.fixture(scope="session")
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.fixture(scope="session")
def test_config(default_config) -> dict:
    return deep_update(default_config, yaml.safe_load((ROOT / "config" / "test.yaml").read_text()))
