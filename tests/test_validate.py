"""``warpfuzz validate`` accepts a sound corpus and names the file and line of each problem in a
damaged one; commands that read a damaged corpus stop with one line instead of a traceback."""

from __future__ import annotations

import json

import pytest

from support import CAMPAIGNS, copy_corpus


def _damaged(campaign_corpus, tmp_path):
    return copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")


def _last_shard(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    return corpus / "records" / manifest["streams"]["records"][-1]["name"], manifest["streams"]["records"][-1]["records"]


def test_sound_corpora_validate(warpfuzz, campaign_corpus):
    cpu, cuda = campaign_corpus("cpu"), campaign_corpus("cuda")
    result = warpfuzz.run("validate", cpu, cuda)
    assert result.returncode == 0, result.stderr
    assert f"{cpu}: 20 records, 0 problems" in result.stdout
    assert f"{cuda}: 10 records, 0 problems" in result.stdout


def test_shard_truncated_mid_record_names_file_and_line(warpfuzz, campaign_corpus, tmp_path):
    corpus = _damaged(campaign_corpus, tmp_path)
    shard, _ = _last_shard(corpus)
    data = shard.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 100  # inside the record after the middle one
    shard.write_bytes(data[:cut])
    line = data[:cut].count(b"\n") + 1

    result = warpfuzz.run("validate", corpus)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{shard}:{line}: last line is not newline-terminated (truncated shard)" in result.stderr
    assert f"{shard}: size {cut} bytes, manifest says {len(data)} (truncated or appended)" in result.stderr


def test_shard_missing_its_last_records_names_file_and_line(warpfuzz, campaign_corpus, tmp_path):
    corpus = _damaged(campaign_corpus, tmp_path)
    shard, records = _last_shard(corpus)
    lines = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(lines[:-2]))

    result = warpfuzz.run("validate", corpus)
    assert result.returncode == 1
    assert f"{shard}:{records - 1}: shard ends after {records - 2} records, manifest says {records} (truncated shard)" in result.stderr


@pytest.mark.parametrize("command", ["stats", "coverage", "campaign"])
def test_commands_reading_a_truncated_shard_stop_with_one_line(warpfuzz, campaign_corpus, tmp_path, command):
    corpus = _damaged(campaign_corpus, tmp_path)
    shard, _ = _last_shard(corpus)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    args = ("campaign", "--backend", "cpu", "--out", corpus, "--count", "40", *CAMPAIGNS["cpu"][2:]) if command == "campaign" else (command, corpus)

    result = warpfuzz.run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"warpfuzz: error: {shard}: size {len(data) // 2} bytes, manifest says {len(data)} (truncated or appended); run `warpfuzz validate {corpus}`"
    ]
    assert shard.read_bytes() == data[: len(data) // 2]


def _edit_manifest(change):
    def apply(manifest_path):
        manifest = json.loads(manifest_path.read_text())
        change(manifest)
        manifest_path.write_text(json.dumps(manifest))

    return apply


MANIFEST_DAMAGE = {
    "truncated": (lambda p: p.write_text(p.read_text()[:200]), "unreadable manifest ("),
    "not an object": (lambda p: p.write_text("[]"), "not a warpfuzz manifest"),
    "no streams": (_edit_manifest(lambda m: m.pop("streams")), "corrupt manifest: field 'streams' must be an object"),
    "streams not a list": (_edit_manifest(lambda m: m["streams"].update(records=3)),
                           "corrupt manifest: field 'streams.records' must be a list of shards"),
    "shard without size": (_edit_manifest(lambda m: m["streams"]["records"][1].pop("bytes")),
                           "corrupt manifest: field 'streams.records[1].bytes' must be an integer"),
    "shard outside the corpus": (_edit_manifest(lambda m: m["streams"]["records"][0].update(name="../../elsewhere.jsonl")),
                                 "corrupt manifest: field 'streams.records[0].name' must be a plain file name"),
}


@pytest.mark.parametrize("damage", sorted(MANIFEST_DAMAGE))
def test_corrupt_manifest_is_one_line_naming_the_manifest(warpfuzz, campaign_corpus, tmp_path, damage):
    corpus = _damaged(campaign_corpus, tmp_path)
    corrupt, message = MANIFEST_DAMAGE[damage]
    corrupt(corpus / "manifest.json")

    result = warpfuzz.run("validate", corpus)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{corpus / 'manifest.json'}: {message}")

    stats = warpfuzz.run("stats", corpus)
    assert stats.returncode == 2
    assert stats.stderr.startswith(f"warpfuzz: error: {corpus / 'manifest.json'}: {message}")
    assert len(stats.stderr.splitlines()) == 1
