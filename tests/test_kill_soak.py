"""``benchmarks/kill_soak.py``: its checks name what a kill could have damaged (on copies of the
session's cpu campaign), and one soak kills a real campaign in a commit's manifest write and
resumes it to that campaign's records."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

from support import CAMPAIGNS, REPO, copy_corpus

SCRIPT = REPO / "benchmarks" / "kill_soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("kill_soak", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


soak = _soak_module()


def _reference(corpus):
    return {stream: soak.committed_lines(corpus, stream) for stream in soak.STREAMS}


def _shards(corpus, stream="records"):
    return json.loads((corpus / "manifest.json").read_text())["streams"][stream]


def test_a_corpus_as_its_reference_has_no_problem(campaign_corpus, tmp_path):
    corpus = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    reference = _reference(campaign_corpus("cpu"))
    counts, problems = soak.check_killed(corpus, reference, {"records": 0, "failures": 0})
    assert problems == []
    assert counts["records"] == len(reference["records"]) == 20
    assert soak.check_finished(corpus, campaign_corpus("cpu"), reference) == []


def test_records_other_than_the_reference_first_ones_are_named(campaign_corpus, tmp_path):
    corpus = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    reference = _reference(corpus)
    lines = reference["records"]
    other = dict(reference, records=lines[:3] + [lines[4], lines[3]] + lines[5:])  # two records swapped
    _, problems = soak.check_killed(corpus, other, {"records": 0, "failures": 0})
    assert problems == ["records: 20 committed lines are not the uninterrupted run's first ones (they part at line 4)"]
    assert "records: 20 lines, 20 in the uninterrupted run, 18 of them the same" in soak.check_finished(corpus, corpus, other)


def test_fewer_committed_records_than_after_the_kill_before_are_a_loss(campaign_corpus, tmp_path):
    corpus = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    _, problems = soak.check_killed(corpus, _reference(corpus), {"records": 25, "failures": 0})
    assert problems == ["records: 20 committed lines, 25 after the kill before (lost)"]
    (corpus / "manifest.json").unlink()
    _, problems = soak.check_killed(corpus, _reference(campaign_corpus("cpu")), {"records": 25, "failures": 0})
    assert problems == ["records: 25 committed lines, now no manifest"]


def test_a_damaged_shard_is_named(campaign_corpus, tmp_path):
    corpus = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    reference = _reference(corpus)
    shard = corpus / "records" / _shards(corpus)[-1]["name"]
    shard.write_bytes(shard.read_bytes()[:-100])
    _, problems = soak.check_killed(corpus, reference, {"records": 0, "failures": 0})
    assert problems and all(str(shard) in p for p in problems) and any("truncated" in p for p in problems)


def test_what_a_kill_leaves_is_counted_and_a_finished_corpus_must_have_none(campaign_corpus, tmp_path):
    corpus = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    reference = _reference(corpus)
    (corpus / "records" / "records-000099.jsonl").write_text('{"half": "written"}\n')
    (corpus / ".manifest.json.killed.tmp").write_text("{")
    assert soak.leftovers(corpus) == ([".manifest.json.killed.tmp"], ["records/records-000099.jsonl"])
    assert soak.check_killed(corpus, reference, {"records": 0, "failures": 0})[1] == []  # the next command removes them
    assert soak.check_finished(corpus, corpus, reference) == [
        "temp file left: .manifest.json.killed.tmp", "orphan shard left: records/records-000099.jsonl"]


def test_a_campaign_killed_in_a_manifest_write_resumes_to_the_uninterrupted_records(warpfuzz, campaign_corpus):
    # the session's cpu campaign is the uninterrupted run: same settings, so no second one is made
    args = dict(zip(CAMPAIGNS["cpu"][::2], CAMPAIGNS["cpu"][1::2]))
    command = [sys.executable, str(SCRIPT), "--backend", "cpu", "--count", args["--count"], "--round-size", args["--round-size"],
               "--seed", args["--seed"], "--kinds", "manifest", "--kills", "1", "--reference", str(campaign_corpus("cpu"))]
    # the soak polls for the manifest's temp file, which lives about 0.4 ms here: in 2 of 45 runs the
    # campaign finished before a poll saw one, and a run without its kill tests nothing, so it is run
    # again (three misses in a row: about 1 in 10,000 if they are independent)
    for _ in range(3):
        result = subprocess.run(command, cwd=REPO, env=warpfuzz.env(), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        lines = result.stdout.splitlines()
        kill = next((line for line in lines if line.startswith("kill  1 manifest")), None)
        if kill is not None:
            break
    assert kill is not None, result.stdout  # three runs finished before a manifest's temp file was seen
    # killed once the manifest's temp file was seen (its write takes well under a millisecond here, so
    # the kill can land after it): between the shard's rename and the manifest's (the manifest's temp
    # file and the round's shard, an orphan, are left); or after the manifest's rename, with nothing
    # left or, the kill landing in the write of ``stats.json`` (after every commit) or of the dataset
    # card (after the last), that file's temp file
    assert ".manifest.json." in kill and "temp dir empty" in kill
    left = re.search(r"left (\d+) temp files(?: \((.*?)\))? and (\d+) orphan shards", kill)
    temps, orphans = left.group(2).split(", ") if left.group(2) else [], int(left.group(3))
    assert int(left.group(1)) == len(temps)
    assert ((orphans == 1 and len(temps) == 1 and temps[0].startswith(".manifest.json."))
            or (orphans == 0 and len(temps) <= 1 and all(t.startswith((".stats.json.", ".README.md.")) for t in temps))), kill
    failures = len(_reference(campaign_corpus("cpu"))["failures"])
    assert f"the resumed corpus: 20 records and {failures} failures, byte for byte the uninterrupted run's" in result.stdout
    assert lines[-1] == "RESULT backend=cpu kills=1 manifest=1 identical=yes problems=0"
