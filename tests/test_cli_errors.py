"""Bad input to ``warpfuzz campaign`` is one line on stderr that names the problem, a non-zero exit
and no traceback, and whatever was already on disk keeps its bytes and modification times."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest

from support import CAMPAIGNS, copy_corpus, snapshot

CPU_SETTINGS = CAMPAIGNS["cpu"]


def assert_one_line_error(result, *fragments):
    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("warpfuzz: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture()
def corpus(campaign_corpus, tmp_path):
    """A copy of the session's cpu corpus, with a snapshot to compare against."""
    path = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    return path, snapshot(path)


@contextlib.contextmanager
def unwritable(path):
    """Make ``path`` a directory nobody may create files in: mode 0555, or for root (whom modes do
    not stop) the immutable attribute."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr +i: no way to make a directory unwritable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--backend", "nope", *CPU_SETTINGS), ("unknown backend 'nope'", "installed: cpu, cuda")),
        (("--backend", "cpu", "--grammar", "nope", *CPU_SETTINGS), ("unknown grammar 'nope'", "elementwise")),
        (("--backend", "cpu", "--size", "12XB", "--seed", "3"), ("bad size '12XB'", "200MB")),
        (("--backend", "cpu", "--size", "0", "--seed", "3"), ("bad size '0'", "must be positive")),
        (("--backend", "cpu", "--count", "0", "--seed", "3"), ("campaign: argument --count", "must be positive, got '0'")),
        (("--backend", "cpu", "--max-ir-kb", "-1", *CPU_SETTINGS), ("--max-ir-kb must be at least 0, got '-1'",)),
    ],
    ids=["unknown-backend", "unknown-grammar", "size-unit", "size-zero", "count-zero", "max-ir-kb-negative"],
)
def test_bad_arguments_leave_an_existing_corpus_alone(warpfuzz, corpus, args, fragments):
    path, before = corpus
    result = warpfuzz.run("campaign", "--out", path, *args)
    assert_one_line_error(result, *fragments)
    assert snapshot(path) == before


def test_bad_arguments_create_no_output_directory(warpfuzz, tmp_path):
    result = warpfuzz.run("campaign", "--backend", "nope", "--out", tmp_path / "new", "--count", "1")
    assert_one_line_error(result, "unknown backend 'nope'")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "setting, value, field",
    [("--seed", "4", "seed"), ("--round-size", "7", "round_size"), ("--grammar", "integer", "grammars"), ("--oracles", "none", "oracles"),
     ("--max-ir-kb", "64", "max_ir_kb")],
)
def test_corpus_made_with_different_settings_is_refused(warpfuzz, corpus, setting, value, field):
    path, before = corpus
    settings = dict(zip(CPU_SETTINGS[::2], CPU_SETTINGS[1::2])) | {setting: value}
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", path, *[x for kv in settings.items() for x in kv])
    assert_one_line_error(result, str(path), f"different settings ({field})", "use another --out")
    assert snapshot(path) == before


def test_a_corpus_drawn_by_another_hypothesis_or_libcst_is_refused(warpfuzz, corpus):
    """Hypothesis draws the kernels and libcst prints their normalized source: another version of
    either can make other records for the same seed, so a corpus records both versions and is not
    resumed, or redrawn, with others. A corpus made before they were recorded resumes as before."""
    import json
    from importlib.metadata import version

    path, _ = corpus
    manifest = json.loads((path / "manifest.json").read_text())
    assert {k: manifest["settings"][k] for k in ("hypothesis_version", "libcst_version")} == {
        "hypothesis_version": version("hypothesis"), "libcst_version": version("libcst")}
    for key in ("hypothesis_version", "libcst_version"):
        (path / "manifest.json").write_text(json.dumps({**manifest, "settings": {**manifest["settings"], key: "0.1"}}))
        before = snapshot(path)
        result = warpfuzz.run("campaign", "--backend", "cpu", "--out", path, *CPU_SETTINGS)
        assert_one_line_error(result, str(path), f"different settings ({key})", "use another --out")
        redraw = warpfuzz.run("redraw", path)
        assert_one_line_error(redraw, f"made with {key} 0.1, this is {version(key.split('_')[0])}")
        assert snapshot(path) == before
    older = {k: v for k, v in manifest["settings"].items() if k not in ("hypothesis_version", "libcst_version")}
    (path / "manifest.json").write_text(json.dumps({**manifest, "settings": older}))
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", path, *CPU_SETTINGS)
    assert result.returncode == 0, result.stderr
    assert json.loads((path / "manifest.json").read_text())["settings"] == older


def test_corpus_of_another_backend_is_refused(warpfuzz, corpus):
    path, before = corpus
    result = warpfuzz.run("campaign", "--backend", "cuda", "--out", path, *CPU_SETTINGS)
    assert_one_line_error(result, "different settings (backend, batching, compile_batch)")  # cuda: batches of 25 by index segment; cpu: 100
    assert snapshot(path) == before


@pytest.mark.parametrize("files", [
    {"chapter1.tex": "\\section{Results}\n", "records/notes.jsonl": '{"mine": true}\n'},
    # shards and temp files alone, and no manifest, are what a campaign killed in its first commit
    # leaves, and a campaign takes them up (test_durability); anything beside them is somebody's
    {"records/records-000000.jsonl": '{"mine": true}\n', ".manifest.json.abc123.tmp": "{",
     "records/notes.jsonl": '{"mine": true}\n'},
], ids=["foreign files", "a shard beside them"])
def test_foreign_directory_is_refused(warpfuzz, tmp_path, files):
    foreign = tmp_path / "thesis"
    for name, text in files.items():
        (foreign / name).parent.mkdir(parents=True, exist_ok=True)
        (foreign / name).write_text(text)
    before = snapshot(foreign)
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", foreign, *CPU_SETTINGS)
    assert_one_line_error(result, str(foreign), "is not empty and has no manifest.json")
    assert snapshot(foreign) == before


def test_output_path_that_is_a_file_is_refused(warpfuzz, tmp_path):
    existing = tmp_path / "results.txt"
    existing.write_text("keep me\n")
    before = snapshot(tmp_path)
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", existing, *CPU_SETTINGS)
    assert_one_line_error(result, str(existing), "is not a directory")
    nested = warpfuzz.run("campaign", "--backend", "cpu", "--out", existing / "corpus", *CPU_SETTINGS)
    assert_one_line_error(nested, "cannot be created", "is not a directory")
    assert snapshot(tmp_path) == before


def test_unwritable_parent_directory_is_refused(warpfuzz, tmp_path):
    parent = tmp_path / "readonly"
    parent.mkdir()
    with unwritable(parent):
        result = warpfuzz.run("campaign", "--backend", "cpu", "--out", parent / "corpus", *CPU_SETTINGS)
    assert_one_line_error(result, str(parent / "corpus"), "not writable")
    assert list(parent.iterdir()) == []


def test_unwritable_existing_corpus_is_refused(warpfuzz, corpus):
    path, before = corpus
    with unwritable(path):
        result = warpfuzz.run("campaign", "--backend", "cpu", "--out", path, "--count", "40", *CPU_SETTINGS[2:])
    assert_one_line_error(result, str(path), "not writable")
    assert snapshot(path) == before


def test_a_reader_that_goes_away_is_no_traceback(warpfuzz, campaign_corpus):
    """``warpfuzz stats DIR | head -1``: the pipe's read end closes before the command writes."""
    proc = warpfuzz.popen("stats", campaign_corpus("cpu"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert stderr == ""
