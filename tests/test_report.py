"""The chief scientist's report: every number it states is the one ``warpfuzz stats --json`` and
``warpfuzz coverage --json`` print for the same corpus, its figures are real PNGs, and its prose
stays short.

The corpora are made by the real CLI: a CPU campaign, and an extraction of a small file with one
kernel Warp compiles and one it rejects (so the extraction rate and the failure table are not
trivially 1 and empty). Both run at once in a session fixture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import matplotlib.image
import pytest

from fuzzer import cli
from fuzzer.errors import WarpfuzzError
from fuzzer.report import BENCHMARK_SCRIPT, FIGURES, load_benchmark, prose_words, render_report
from fuzzer.shards import iter_records
from fuzzer.splits import SPLIT_NAMES
from support import communicate_all

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PROSE_WORDS = 2000
BENCHMARK = {"backend": "cpu", "pairs_per_second": 4.25, "bytes_per_second": 123456.5, "kernels": 40}

REAL_KERNELS = '''import warp as wp


@wp.kernel
def scale(x: wp.array(dtype=float), s: float, out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.sin(x[i]) * s


@wp.kernel
def mixed(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = x[i] + i
'''


def _warpfuzz(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fuzzer", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report-corpora")
    generated, extracted = root / "generated", root / "extracted"
    source = root / "real_kernels.py"
    source.write_text(REAL_KERNELS)
    procs = [
        _warpfuzz("campaign", "--backend", "cpu", "--out", str(generated), "--count", "12", "--seed", "5",
                  "--grammar", "elementwise", "--workers", "2", "--oracles", "run"),
        _warpfuzz("extract", str(source), "--backend", "cpu", "--out", str(extracted)),
    ]
    outputs = communicate_all(procs, timeout=300)
    for p, output in zip(procs, outputs):
        assert p.returncode == 0, output
    return generated, extracted


@pytest.fixture(scope="session")
def report(corpora, tmp_path_factory) -> Path:
    return render_report(list(corpora), tmp_path_factory.mktemp("report"), benchmark=BENCHMARK)


def _cli_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def tables(markdown: str) -> list[list[dict]]:
    """Every Markdown table as a list of rows (header cell -> cell text)."""
    found, block = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if block:
            header, _, *rows = block
            found.append([dict(zip(header, row)) for row in rows])
            block = []
    return found


def table_with(markdown: str, *columns: str) -> list[dict]:
    matches = [t for t in tables(markdown) if t and all(c in t[0] for c in columns)]
    assert len(matches) == 1, f"expected one table with columns {columns}, found {len(matches)}"
    return matches[0]


def row_for(table: list[dict], column: str, value: str) -> dict:
    [row] = [r for r in table if r[column] == value]
    return row


def test_summary_table_states_the_cli_figures(report, corpora, capsys):
    text = report.read_text()
    summary = table_with(text, "corpus", "records", "bytes", "unique kernels", "entropy")
    assert [r["corpus"] for r in summary] == [d.name for d in corpora]
    for corpus_dir in corpora:
        stats = _cli_json(capsys, "stats", str(corpus_dir), "--json")
        coverage = _cli_json(capsys, "coverage", str(corpus_dir), "--json")
        row = row_for(summary, "corpus", corpus_dir.name)
        assert row["backend"] == stats["backend"]
        assert int(row["records"]) == stats["records"]
        assert int(row["bytes"]) == stats["bytes"]
        assert int(row["unique kernels"]) == stats["unique_kernels"]
        assert float(row["validity"]) == stats["validity"] == coverage["validity"]
        assert float(row["duplicate rate"]) == stats["duplicate_rate"] == coverage["duplicate_rate"]
        assert int(row["builtins covered"]) == coverage["builtins_covered"]
        assert int(row["builtins total"]) == coverage["builtins_total"]
        assert float(row["entropy"]) == coverage["entropy"] == stats["kernel_type_entropy"]
    generated, extracted = corpora
    assert row_for(summary, "corpus", generated.name)["kind"] == "generated"
    assert row_for(summary, "corpus", extracted.name)["kind"] == "extracted"


def test_kernel_type_counts_and_ir_bytes_match_stats(report, corpora, capsys):
    generated, _ = corpora
    stats = _cli_json(capsys, "stats", str(generated), "--json")
    text = report.read_text()
    per_type = table_with(text, "kernel type", generated.name)
    assert {r["kernel type"]: int(r[generated.name]) for r in per_type} == stats["kernel_types"]
    sizes = [r for r in table_with(text, "field", "total bytes", "median") if r["corpus"] == generated.name]
    assert {r["field"]: int(r["total bytes"]) for r in sizes} == stats["field_bytes"]
    for r in sizes:
        assert int(r["records"]) == stats["records"]
        assert int(r["median"]) <= int(r["p90"]) <= int(r["max"])


def test_extraction_rate_and_failures_come_from_the_extracted_corpus(report, corpora, capsys):
    _, extracted = corpora
    stats = _cli_json(capsys, "stats", str(extracted), "--json")
    text = report.read_text()
    row = row_for(table_with(text, "kernel instances", "extraction rate"), "corpus", extracted.name)
    assert (int(row["kernel instances"]), int(row["compiled"]), int(row["records"])) == (2, 1, 1)
    assert float(row["extraction rate"]) == stats["records"] / 2
    stream = list(iter_records(extracted, "failures"))
    failures = [r for r in table_with(text, "failure label", "distinct signatures") if r["corpus"] == extracted.name]
    assert {r["failure label"]: int(r["failure records"]) for r in failures} == Counter(f["label"] for f in stream)
    assert sum(int(r["failure records"]) for r in failures) == stats["failure_records"] == 1
    for r in failures:
        assert int(r["distinct signatures"]) == len({f.get("signature") for f in stream if f["label"] == r["failure label"]} - {None, ""})


def test_splits_and_clusters_are_reported_when_records_carry_them(report, corpora):
    expected = {}
    for corpus_dir in corpora:
        records = list(iter_records(corpus_dir))
        if any("split" in r or "cluster_id" in r for r in records):
            splits = Counter(r["split"] for r in records if "split" in r)
            expected[corpus_dir.name] = ({"clusters": len({r["cluster_id"] for r in records if "cluster_id" in r})}
                                         | {name: splits[name] for name in SPLIT_NAMES})
    text = report.read_text()
    if not expected:
        assert not [t for t in tables(text) if t and "near-duplicate clusters" in t[0]]
        return
    rows = table_with(text, "near-duplicate clusters", *SPLIT_NAMES)
    assert {r["corpus"]: {"clusters": int(r["near-duplicate clusters"])} | {n: int(r[n]) for n in SPLIT_NAMES} for r in rows} == expected


def test_oracle_table_counts_record_verdicts(report, corpora):
    generated, _ = corpora
    expected = Counter()
    for rec in iter_records(generated):
        for oracle, result in rec["provenance"]["oracles"].items():
            expected[(oracle, result["status"])] += 1
    rows = [r for r in table_with(report.read_text(), "oracle", "status") if r["corpus"] == generated.name]
    assert {(r["oracle"], r["status"]): int(r["records"]) for r in rows} == expected
    assert sum(expected.values()) > 0


def test_throughput_comes_from_stats_json_and_the_benchmark(report, corpora):
    generated, _ = corpora
    live = json.loads((generated / "stats.json").read_text())
    rows = table_with(report.read_text(), "source", "pairs/s", "bytes/s")
    campaign = row_for(rows, "source", f"{generated.name} (campaign, cpu)")
    assert float(campaign["pairs/s"]) == live["pairs_per_second"]
    assert float(campaign["bytes/s"]) == live["bytes_per_second"]
    assert float(campaign["elapsed s"]) == live["elapsed_seconds"]
    bench = row_for(rows, "source", BENCHMARK_SCRIPT)
    assert (float(bench["pairs/s"]), float(bench["bytes/s"])) == (BENCHMARK["pairs_per_second"], BENCHMARK["bytes_per_second"])


def test_figures_are_pngs_linked_from_the_report(report):
    text = report.read_text()
    names = sorted(p.name for p in (report.parent / FIGURES).iterdir())
    assert names == ["builtin_coverage.png", "ir_sizes.png", "kernel_types.png", "throughput.png"]
    for name in names:
        assert f"]({FIGURES}/{name})" in text
        path = report.parent / FIGURES / name
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        height, width, _ = matplotlib.image.imread(path).shape
        assert height > 100 and width > 100


def test_prose_is_short_and_has_no_absolute_paths(report, corpora):
    text = report.read_text()
    assert prose_words(text) <= MAX_PROSE_WORDS
    for corpus_dir in corpora:
        assert str(corpus_dir.parent) not in text


def test_same_corpora_give_the_same_bytes(report, corpora, tmp_path):
    again = render_report(list(corpora), tmp_path, benchmark=BENCHMARK)
    assert again.read_bytes() == report.read_bytes()
    for png in (report.parent / FIGURES).iterdir():
        assert (tmp_path / FIGURES / png.name).read_bytes() == png.read_bytes()


def test_prose_words_skip_tables_code_images_and_comments():
    markdown = "# Title here\n\nTwo words.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```json\n{\"x\": 1}\n```\n![fig](f.png)\n<!-- note -->\n- item — one\n"
    assert prose_words(markdown) == 6


def test_load_benchmark_reads_json_and_result_lines(tmp_path):
    as_json = tmp_path / "bench.json"
    as_json.write_text(json.dumps(BENCHMARK))
    assert load_benchmark(as_json) == BENCHMARK
    as_lines = tmp_path / "bench.txt"
    as_lines.write_text("warming up\nRESULT pairs_per_second=4.25 backend=cpu\nRESULT {\"bytes_per_second\": 123456.5, \"kernels\": 40}\n")
    assert load_benchmark(as_lines) == BENCHMARK
    empty = tmp_path / "empty.txt"
    empty.write_text("no figures here\n")
    with pytest.raises(WarpfuzzError, match="no benchmark figures"):
        load_benchmark(empty)
    broken = tmp_path / "broken.txt"
    broken.write_text("RESULT {\"pairs_per_second\": \n")
    with pytest.raises(WarpfuzzError, match=r"broken.txt:1: RESULT line is not a JSON object"):
        load_benchmark(broken)


def test_bad_inputs_are_one_line_errors(tmp_path, corpora):
    with pytest.raises(WarpfuzzError, match="not a warpfuzz corpus"):
        render_report([tmp_path], tmp_path / "out")
    with pytest.raises(WarpfuzzError, match="at least one corpus"):
        render_report([], tmp_path / "out")
    generated, _ = corpora
    twin = tmp_path / "twin" / generated.name
    twin.mkdir(parents=True)
    with pytest.raises(WarpfuzzError, match="share the name"):
        render_report([generated, twin], tmp_path / "out")


def test_report_command_writes_the_same_report_as_render_report(report, corpora, tmp_path, capsys):
    bench = tmp_path / "bench.txt"
    bench.write_text("(a) pipeline ...\nRESULT " + " ".join(f"{k}={v}" for k, v in BENCHMARK.items()) + "\n")
    out = tmp_path / "report"
    capsys.readouterr()
    assert cli.main(["report", *map(str, corpora), "--out", str(out), "--benchmark", str(bench)]) == 0
    assert "chief_scientist_report.md" in capsys.readouterr().out
    assert (out / "chief_scientist_report.md").read_text() == report.read_text()
    assert sorted(p.name for p in (out / FIGURES).iterdir()) == sorted(p.name for p in (report.parent / FIGURES).iterdir())


def test_report_command_refuses_a_folder_that_is_not_a_corpus(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a warpfuzz corpus" in err[0]
    assert not (tmp_path / "out").exists()
