"""Code hashes from import closures (alpscan.code_hash) and the reruns they trigger.

The unit tests build a small package; the workflow tests dry-run Snakemake on a faked
results tree (every output an empty file, recorded as complete with ``--touch``) in a
copy of the repository, edit one library module there and check that exactly the rules
whose script imports it (and what reads their outputs) are scheduled.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alpscan.code_hash import code_hash, import_closure

from .conftest import ROOT

SRC = ROOT / "src"
LIB = SRC / "alpscan"


# ------------------------------------------------------------------ import closure
def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def package(tmp_path):
    """pkg: a -> .b (relative) -> pkg.c (inside a function); d and sub.e are never imported."""
    src = tmp_path / "src"
    write(src / "pkg" / "__init__.py")
    write(src / "pkg" / "a.py", "import numpy as np\nfrom .b import g\n\nVALUE = 1\n")
    write(src / "pkg" / "b.py", "def g():\n    from pkg import c\n    return c.h()\n")
    write(src / "pkg" / "c.py", "def h():\n    return 3\n")
    write(src / "pkg" / "d.py", "from pkg.a import VALUE\n")
    write(src / "pkg" / "sub" / "__init__.py", "from . import e\n")
    write(src / "pkg" / "sub" / "e.py", "from ..c import h\n")
    script = write(tmp_path / "script.py", "import json\nfrom pkg.a import VALUE\n")
    return src, script


def relative(paths, src):
    return [p.relative_to(src).as_posix() for p in paths]


def test_closure_follows_absolute_relative_and_function_imports(package):
    src, script = package
    assert relative(import_closure(script, src, "pkg"), src) == [
        "pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/c.py"]


def test_closure_of_a_subpackage_includes_its_init_and_parents(package, tmp_path):
    src, _ = package
    script = write(tmp_path / "other.py", "import pkg.sub.e\n")
    assert relative(import_closure(script, src, "pkg"), src) == [
        "pkg/__init__.py", "pkg/c.py", "pkg/sub/__init__.py", "pkg/sub/e.py"]
    script = write(tmp_path / "third.py", "from pkg import sub, d\n")  # submodules by name
    assert "pkg/d.py" in relative(import_closure(script, src, "pkg"), src)


def test_hash_changes_exactly_with_the_closure(package):
    src, script = package
    before = code_hash(script, src, "pkg")
    (src / "pkg" / "d.py").write_text("# not imported by the script\n")
    (src / "pkg" / "sub" / "e.py").write_text("# not imported either\n")
    assert code_hash(script, src, "pkg") == before
    (src / "pkg" / "c.py").write_text("def h():\n    return 4\n")  # reached through b.g
    assert code_hash(script, src, "pkg") != before


def test_missing_module_is_an_error_naming_the_file(package, tmp_path):
    src, _ = package
    script = write(tmp_path / "bad.py", "from pkg.nothere import x\n")
    with pytest.raises(ValueError, match=r"bad\.py: imports pkg\.nothere"):
        import_closure(script, src, "pkg")


def test_real_closures_hold_io_and_logs_but_not_unimported_modules():
    fidelity = relative(import_closure(ROOT / "scripts" / "fidelity.py", SRC), SRC)
    assert {"alpscan/io.py", "alpscan/logs.py", "alpscan/validation/fidelity.py"} <= set(fidelity)
    assert not any(p.startswith("alpscan/mva/") for p in fidelity)
    for script in ("toy_chunk", "limits_mode", "toy_cls", "limit_gaw"):
        closure = relative(import_closure(ROOT / "scripts" / f"{script}.py", SRC), SRC)
        assert "alpscan/physics/event_shape.py" not in closure, script
        assert "alpscan/stats/limits.py" in closure, script


# ------------------------------------------------------------------ the workflow's wiring
def rule_scripts() -> dict[str, str]:
    """Rule name -> script stem, from workflow/rules/*.smk."""
    out = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text())[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            script = re.search(r'script:\n\s+"\.\./\.\./scripts/(\w+)\.py"', block)
            if script:
                out[name] = script.group(1)
    return out


def test_every_rule_hashes_the_closure_of_its_own_script():
    scripts = rule_scripts()
    assert len(scripts) >= 25
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text())[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            if name in scripts:
                assert re.findall(r"code=code_hash\((.*?)\)", block) == [f'"{scripts[name]}"'], name


def dependants(module: str) -> set[str]:
    """Rules whose script's import closure holds ``module`` (path under src/alpscan)."""
    target = LIB / module
    return {rule for rule, script in rule_scripts().items()
            if target in import_closure(ROOT / "scripts" / f"{script}.py", SRC)}


class FakeRun:
    """A copy of the repository with a faked, complete results tree."""

    def __init__(self, root: Path):
        self.repo, self.work = root / "repo", root / "work"
        self.repo.mkdir()
        for name in ("Snakefile", "workflow", "scripts", "config", "resources", "envs"):
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, self.repo / name)
        shutil.copytree(LIB, self.repo / "src" / "alpscan", ignore=shutil.ignore_patterns("__pycache__"))
        self.work.mkdir()
        summary = self.snakemake("--summary").stdout.splitlines()[1:]
        for line in summary:
            path = self.work / line.split("\t")[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        self.snakemake("--touch", "--forceall", "--cores", "1")  # records params and hashes

    def snakemake(self, *args) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(self.repo / "Snakefile"),
               "--directory", str(self.work), "--configfiles", str(self.repo / "config" / "config.yaml"),
               str(self.repo / "config" / "test.yaml"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    def scheduled(self, *args) -> set[str]:
        out = self.snakemake("-n", *args).stdout
        if "Nothing to be done" in out:
            return set()
        table = out.split("Job stats:")[1].split("Reasons:")[0]
        return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+$", table, re.M)} - {"total"}

    def scheduled_after_edit(self, module: str) -> set[str]:
        """Dry run after appending a comment to ``module``; the edit is then undone."""
        path = self.repo / "src" / "alpscan" / module
        text = path.read_text()
        path.write_text(text + "\n# edited by tests/test_code_hash.py\n")
        try:
            return self.scheduled()
        finally:
            path.write_text(text)


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    return FakeRun(tmp_path_factory.mktemp("code-hash"))


def test_faked_tree_is_up_to_date(fake_run):
    assert fake_run.scheduled() == set()


def test_editing_the_fidelity_module_reruns_only_fidelity(fake_run):
    assert dependants("validation/fidelity.py") == {"fidelity"}
    # fidelity_targets reads fidelity.json (an input that is rewritten), not the module
    assert fake_run.scheduled_after_edit("validation/fidelity.py") == {
        "fidelity", "fidelity_targets", "all"}


@pytest.mark.parametrize("module", ["physics/event_shape.py", "reuse/hepdata.py"])
def test_module_edit_reruns_exactly_its_dependants(fake_run, module):
    rules = dependants(module)
    assert rules
    expected = fake_run.scheduled("--forcerun", *sorted(rules))  # those rules and what reads them
    assert fake_run.scheduled_after_edit(module) == expected
    if module == "physics/event_shape.py":  # generation imports it; toys and limits do not
        assert "generate_sample" in expected and not {"toy_chunk", "limits_mode", "toy_cls"} & rules
    else:
        # the record writer and the recast that reads the record, nothing upstream
        assert rules == {"hepdata", "recast"} and "limit_gaw" not in expected
