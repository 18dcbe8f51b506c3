"""Issue 3: a third-party grammar plugin, registered by its own distribution's entry point, is
found, listed and used by a campaign exactly like a built-in one; a malformed one is reported in
one line that names the plugin and the field, and breaks nothing else."""

from __future__ import annotations

import json

import pytest

from support import FIXTURES, records_of

PLUGINS = FIXTURES / "grammar_plugins"
BROKEN = FIXTURES / "broken_grammar_plugins"
BROKEN_MESSAGES = {
    "broken": "grammar plugin 'broken': field 'kernel_types' has an invalid kernel type name 'Saxpy Kernel'",
    "unimportable": "plugin 'unimportable' (broken_grammar_missing_module:GRAMMAR) failed to import: ModuleNotFoundError",
}


def _listed(stdout: str) -> dict[str, list[str]]:
    """``warpfuzz plugins`` rows by plugin name: [status, entry point, [distribution], detail...]."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("  "):
            name, *rest = line.split()
            rows[name] = rest
    return rows


def test_plugins_lists_the_third_party_grammar(warpfuzz):
    result = warpfuzz.run("plugins", pythonpath=(PLUGINS,))
    assert result.returncode == 0, result.stderr
    status, entry_point, distribution, *detail = _listed(result.stdout)["saxpy"]
    assert (status, entry_point, distribution) == ("ok", "saxpy_grammar:GRAMMAR", "[saxpy-grammar]")
    assert " ".join(detail) == "1 kernel types: saxpy"


def test_campaign_records_kernels_of_the_plugin_kernel_type(warpfuzz, tmp_path):
    out = tmp_path / "saxpy"
    result = warpfuzz.run("campaign", "--backend", "cpu", "--grammar", "saxpy", "--count", "5", "--round-size", "8",
                          "--seed", "1", "--workers", "1", "--out", out, pythonpath=(PLUGINS,))
    assert result.returncode == 0, result.stderr[-3000:]
    records = records_of(out)
    assert len(records) == 5
    assert {(r["grammar"], r["kernel_type"]) for r in records} == {("saxpy", "saxpy")}
    for r in records:
        assert f"def {r['kernel_name']}(x: wp.array(dtype=float), y: wp.array(dtype=float)):" in r["python_source"]
        assert f"{r['kernel_name']}_cpu_kernel_forward(" in r["ir"]["forward"]
    assert json.loads((out / "manifest.json").read_text())["settings"]["grammars"] == ["saxpy"]
    validate = warpfuzz.run("validate", out)
    assert validate.returncode == 0, validate.stderr


def test_malformed_plugins_are_listed_as_broken_and_the_rest_still_load(warpfuzz):
    result = warpfuzz.run("plugins", pythonpath=(BROKEN, PLUGINS))
    assert result.returncode == 0, result.stderr
    rows = _listed(result.stdout)
    for name, message in BROKEN_MESSAGES.items():
        assert rows[name][0] == "broken"
        assert message in " ".join(rows[name])
    assert rows["saxpy"][0] == rows["elementwise"][0] == rows["cpu"][0] == "ok"


@pytest.mark.parametrize("name", sorted(BROKEN_MESSAGES))
def test_campaign_with_a_malformed_plugin_is_one_line_naming_plugin_and_field(warpfuzz, tmp_path, name):
    out = tmp_path / "never"
    result = warpfuzz.run("campaign", "--backend", "cpu", "--grammar", name, "--count", "5", "--out", out, pythonpath=(BROKEN,))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"warpfuzz: error: {BROKEN_MESSAGES[name]}")
    assert not out.exists()
