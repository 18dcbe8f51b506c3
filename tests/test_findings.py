"""Fuzzer mode end to end: a campaign on a backend with injected faults labels, deduplicates and
records them; findings are listed and reduced; a real Warp finding reduces to a standalone repro.

The ``faulty`` backend (tests/fixtures/plugins) picks each kernel's fault from its name, so the
test knows which label every kernel must get. Seed 53 with rounds of 8 integer kernels draws one
crash, one hang, three exceptions, one wrong result and then the two good kernels the campaign
stops at (found with ``faulty_backend.planned_fault`` over the drawn names).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzer import outcomes
from fuzzer.findings import collect_findings, reduce_findings
from fuzzer.repro import run_repro

TESTS = Path(__file__).parent
PLUGINS = TESTS / "fixtures" / "plugins"
KNOWN = TESTS / "fixtures" / "known"
LABEL_OF_FAULT = {
    "crash": outcomes.CRASH,
    "hang": outcomes.TIMEOUT,
    "exception": outcomes.WARP_INTERNAL_ERROR,
    "wrong": outcomes.MISMATCH,
}
GOOD_KERNELS = 2


def warpfuzz(*args: str, plugins: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if plugins:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "fuzzer", *args], capture_output=True, text=True, env=env, timeout=600)


@functools.cache
def _faulty_backend():
    spec = importlib.util.spec_from_file_location("faulty_backend", PLUGINS / "faulty_backend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def planned_fault(record: dict):
    return _faulty_backend().planned_fault(record["kernel_name"], record["python_source"])


def read_stream(corpus: Path, stream: str) -> list[dict]:
    return [json.loads(line) for shard in sorted((corpus / stream).glob("*.jsonl")) for line in shard.read_text().splitlines()]


@pytest.fixture(scope="module")
def faulty_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faulty") / "corpus"
    done = warpfuzz("campaign", "--backend", "faulty", "--out", str(out), "--grammar", "integer", "--seed", "53",
                    "--count", str(GOOD_KERNELS), "--round-size", "8", "--oracles", "all", "--kernel-timeout", "4",
                    "--workers", "1", plugins=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_campaign_labels_every_injected_fault_and_records_the_good_kernels(faulty_corpus):
    failures = read_stream(faulty_corpus, "failures")
    assert sorted(r["label"] for r in failures) == sorted(LABEL_OF_FAULT[planned_fault(r)] for r in failures)
    assert {r["label"] for r in failures} == set(LABEL_OF_FAULT.values())
    crashed = next(r for r in failures if r["label"] == outcomes.CRASH)
    assert crashed["exc_type"] == "SIGSEGV"

    records = read_stream(faulty_corpus, "records")
    assert len(records) == GOOD_KERNELS and all(planned_fault(r) is None for r in records)
    stats = json.loads((faulty_corpus / "stats.json").read_text())
    # the campaign stops at the kernel whose record reaches the target: nothing after it counts
    assert stats["records"] == GOOD_KERNELS and stats["generated"] == 1 + max(r["provenance"]["index"] for r in records)


def test_findings_deduplicate_each_fault_to_one_signature(faulty_corpus):
    listed = warpfuzz("findings", str(faulty_corpus), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    failures = read_stream(faulty_corpus, "failures")
    assert sorted(r["label"] for r in rows) == sorted(LABEL_OF_FAULT.values())  # one signature per fault
    for row in rows:
        assert row["count"] == sum(r["label"] == row["label"] for r in failures)
        assert row["kind"] == "warp" and row["repro"] is None and row["reproducible"] is None
    by_label = {row["label"]: row for row in rows}
    assert by_label[outcomes.WARP_INTERNAL_ERROR]["count"] >= 2  # several failures, one signature
    assert by_label[outcomes.CRASH]["signature"] == "crash|SIGSEGV||SIGSEGV"
    assert by_label[outcomes.TIMEOUT]["signature"] == "timeout|||timed out"


def test_reduction_marks_plugin_faults_not_reproducible_with_plain_warp(faulty_corpus):
    reduced = warpfuzz("findings", str(faulty_corpus), "--reduce", "--workers", "2", "--json")
    assert reduced.returncode == 0, reduced.stderr[-3000:]
    rows = json.loads(reduced.stdout)
    assert len(rows) == len(LABEL_OF_FAULT)
    for row in rows:
        folder = faulty_corpus / "findings" / row["key"]
        info = json.loads((folder / "info.json").read_text())
        assert row["reproducible"] is False and row["repro"] is None, info["verdict"]
        assert info["verdict"].startswith("not reproduced: got ok")
        assert Path(row["original"]).read_text() == next(
            r["python_source"] for r in read_stream(faulty_corpus, "failures") if r["kernel_name"] == row["example"])

    text = warpfuzz("findings", str(faulty_corpus))  # done findings are read back, not redone
    assert text.returncode == 0 and text.stdout.count("not reproducible with plain Warp") == len(LABEL_OF_FAULT)


def _kernel_statements(source: str, name: str) -> int:
    kernel = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return sum(isinstance(n, ast.stmt) for n in ast.walk(kernel)) - 1


def test_a_real_warp_finding_reduces_to_a_smaller_repro_that_plain_python_runs(tmp_path):
    corpus = tmp_path / "extracted"
    extracted = warpfuzz("extract", str(KNOWN / "tile_in_long_kernel.py"), "--backend", "cpu", "--out", str(corpus), "--workers", "1")
    assert extracted.returncode == 0, extracted.stderr[-3000:]
    (finding,) = collect_findings(corpus)
    assert finding.label == outcomes.WARP_INTERNAL_ERROR and finding.kind == "warp"

    (info,) = reduce_findings(corpus, workers=1, max_steps=8)

    assert info["reproducible"] is True
    assert info["repro_signature"] == finding.signature
    assert info["reduced"]["bytes"] < info["original"]["bytes"]
    folder = corpus / "findings" / finding.key
    original = (folder / "original.py").read_text()
    repro = folder / "repro.py"
    text = repro.read_text()
    assert "import fuzzer" not in text and "from fuzzer" not in text
    reduced_source = ast.literal_eval(next(line for line in text.splitlines() if line.startswith("KERNEL_SOURCE = "))[len("KERNEL_SOURCE = "):])
    name = "tile_in_long_kernel"
    assert _kernel_statements(reduced_source, name) < _kernel_statements(original, name)
    assert "wp.tile(x[i])" in reduced_source
    assert run_repro(str(repro)) == (1, f"reproduced {outcomes.WARP_INTERNAL_ERROR}: {finding.signature}")


def _running_reproducer(tmpdir: Path) -> bool:
    """Whether a reproducer of the command whose TMPDIR is ``tmpdir`` is running."""
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(str(tmpdir).encode()) and a.endswith(b"repro.py") for a in argv):
            return True
    return False


def test_ctrl_c_in_a_reduction_stops_it_and_records_no_verdict(tmp_path):
    """A terminal's Ctrl-C reaches the reproducer being run too, and a run it cut short is no
    verdict: the finding was recorded as not reproducible (``info.json``), which the same command
    then read back as done, and the findings still waiting were reduced before the command ended.
    Now the command stops with its one line, and the finding is reduced when it is run again."""
    import signal
    import time

    from support import Warpfuzz

    corpus = tmp_path / "extracted"
    extracted = warpfuzz("extract", str(KNOWN / "tile_in_long_kernel.py"), "--backend", "cpu", "--out", str(corpus), "--workers", "1")
    assert extracted.returncode == 0, extracted.stderr[-3000:]
    (finding,) = collect_findings(corpus)
    command = ("findings", corpus, "--reduce", "--workers", "1", "--max-steps", "8")
    cli = Warpfuzz(tmp_path / "tmp")
    proc = cli.popen(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _running_reproducer(cli.tmpdir) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends Ctrl-C to its foreground group
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr[-3000:]
    said = [line for line in stderr.splitlines() if line.startswith("warpfuzz:") or "Traceback" in line]
    assert said == ["warpfuzz: interrupted; committed records are kept, run the same command to resume"], stderr[-3000:]
    assert not (corpus / "findings" / finding.key / "info.json").exists()

    again = cli.run(*command)
    assert again.returncode == 0, again.stderr[-3000:]
    info = json.loads((corpus / "findings" / finding.key / "info.json").read_text())
    assert info["reproducible"] is True and info["repro_signature"] == finding.signature
    assert sorted(os.listdir(cli.tmpdir)) == []


# two kernels with one grad_mismatch signature and two causes: builtins Warp gives no gradient
# by design (curlnoise's gain, documented; randf's bounds, registered as not differentiable)
NO_GRADIENT = {
    "curl_gain": '''import warp as wp

@wp.kernel
def curl_gain(gain: wp.array(dtype=float), out: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    g = gain[i]
    h = g * 2.0
    out[i] = wp.curlnoise(wp.rand_init(42), wp.vec3(0.3, 0.7, 1.1), wp.uint32(4), 2.0, g)
''',
    "randf_low": '''import warp as wp

@wp.kernel
def randf_low(low: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    lo = low[i]
    m = lo * lo
    out[i] = wp.randf(wp.rand_init(42, i), lo, lo + 1.0)
''',
}
GRAD_SIGNATURE = "grad_mismatch||grad|max error <n> (probe <n>: adjoint <n> vs finite difference <n>)"


def test_a_wrong_gradient_signature_reduces_several_examples_grouped_by_the_calls_left(tmp_path):
    """A wrong gradient's signature says that the adjoint differed, not why: its first examples
    are all reduced, and the listing groups them by the Warp calls each still makes."""
    from fuzzer.shards import CorpusWriter

    corpus = tmp_path / "corpus"
    failures = [{"label": outcomes.GRAD_MISMATCH, "signature": GRAD_SIGNATURE, "kernel_name": name, "python_source": source,
                 "backend": "cpu", "grammar": "extracted", "kernel_type": "", "exc_type": "", "where": "",
                 "diagnostic": "max error 1 (probe 0: adjoint 0 vs finite difference 1)", "provenance": {"seed": 0}}
                for name, source in NO_GRADIENT.items()]
    CorpusWriter(corpus, {"backend": "cpu"}).commit({"failures": failures}, state={})
    (finding,) = collect_findings(corpus)
    assert finding.count == 2 and [e["kernel_name"] for e in finding.examples] == list(NO_GRADIENT)

    listed = warpfuzz("findings", str(corpus), "--reduce", "--workers", "2", "--max-steps", "6", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    (row,) = json.loads(listed.stdout)
    reduced = {e["example"]: e for e in row["reduced_examples"]}
    assert sorted(reduced) == sorted(NO_GRADIENT)
    assert "wp.curlnoise" in reduced["curl_gain"]["calls"] and "wp.randf" not in reduced["curl_gain"]["calls"]
    assert "wp.randf" in reduced["randf_low"]["calls"] and "wp.curlnoise" not in reduced["randf_low"]["calls"]
    assert all("wp.array" not in e["calls"] for e in reduced.values())  # parameter annotations are no calls
    assert Path(reduced["curl_gain"]["repro"]) == corpus / "findings" / finding.key / "repro.py"
    assert Path(reduced["randf_low"]["repro"]).parent.parent == corpus / "findings" / finding.key / "examples"
    for example in reduced.values():
        assert run_repro(example["repro"]) == (1, f"reproduced {outcomes.GRAD_MISMATCH}: {GRAD_SIGNATURE}")

    text = warpfuzz("findings", str(corpus))
    assert text.returncode == 0 and "2 examples reduced, 2 sets of calls left:" in text.stdout, text.stdout
