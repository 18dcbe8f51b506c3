"""``warpfuzz redraw``: every record of a campaign corpus is what its settings draw at its index,
with each round's plan rebuilt from the corpus's own records; a record they do not draw is named."""

from __future__ import annotations

import json
import re

import pytest

from support import REPO, copy_corpus, records_of, snapshot
from test_cli_errors import assert_one_line_error

ROUND_SIZE = 10


@pytest.fixture(scope="module")
def steered_corpus(warpfuzz, tmp_path_factory):
    """A cpu campaign of four rounds: rounds 2 and 3 are steered by the coverage of 0 and 1."""
    out = tmp_path_factory.mktemp("redraw") / "corpus"
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", out, "--count", 36, "--round-size", ROUND_SIZE,
                          "--seed", 5, "--oracles", "none", "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _summary(stdout: str) -> dict:
    m = re.search(r": (\d+) records, (\d+) draws in (\d+) rounds redrawn in [\d.]+ s: (\d+) differ; (.*)$", stdout.strip())
    assert m, stdout
    return {"records": int(m[1]), "draws": int(m[2]), "rounds": int(m[3]), "differ": int(m[4]), "coverage": m[5]}


def test_a_campaign_corpus_is_what_its_settings_draw(warpfuzz, steered_corpus, tmp_path):
    path = copy_corpus(steered_corpus, tmp_path / "corpus")
    before = snapshot(path)
    result = warpfuzz.run("redraw", path, "--workers", 2, "--recompile", 5)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = _summary(result.stdout.splitlines()[0])
    assert re.search(r": 5 records compiled again in [\d.]+ s \(backward, forward, support compared\): 0 differ$",
                     result.stdout.splitlines()[1])
    records = records_of(path)
    assert summary["records"] == len(records)
    assert summary["draws"] == len({r["provenance"]["index"] for r in records})
    # rounds 2 and later are steered by the coverage of the records before them: rebuilt here
    assert summary["rounds"] >= 3
    assert summary["differ"] == 0 and summary["coverage"] == "the coverage matches the manifest's"
    assert snapshot(path) == before  # it reads, never writes


def test_records_the_settings_do_not_draw_are_named(warpfuzz, steered_corpus, tmp_path):
    """The same records under other settings: with steering off, rounds 0 and 1 (unsteered in any
    case) still match, and the steered rounds' draws differ: each is named, the exit status is 1."""
    path = copy_corpus(steered_corpus, tmp_path / "corpus")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["settings"]["steer"] is True
    manifest["settings"]["steer"] = False
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = warpfuzz.run("redraw", path, "--workers", 2)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = _summary(result.stdout)
    named = [int(m[1]) for m in re.finditer(r"index (\d+) \(round (\d+), ", result.stderr)]
    assert len(named) == summary["differ"] > 0
    assert min(named) >= 2 * ROUND_SIZE
    assert "the coverage DIFFERS" in summary["coverage"]


def test_a_record_whose_ir_its_source_no_longer_gives_is_named(warpfuzz, steered_corpus, tmp_path):
    """``--recompile K`` compiles K records again: one whose recorded C++ was altered (same size, so
    the shard still reads) is named with the field that differs; its draw still matches."""
    path = copy_corpus(steered_corpus, tmp_path / "corpus")
    shard = sorted((path / "records").iterdir())[0]
    lines = shard.read_bytes().split(b"\n")
    victim = next(i for i, line in enumerate(lines) if line and not json.loads(line)["provenance"].get("generic_hash"))
    record = json.loads(lines[victim])
    at = lines[victim].index(b'"forward":"')
    at = lines[victim].index(b"wp::", at)
    lines[victim] = lines[victim][:at] + b"wq::" + lines[victim][at + 4 :]
    shard.write_bytes(b"\n".join(lines))
    result = warpfuzz.run("redraw", path, "--workers", 2, "--recompile", 100)  # every plain record
    assert result.returncode == 1, result.stderr[-3000:]
    assert _summary(result.stdout.splitlines()[0])["differ"] == 0
    assert result.stdout.splitlines()[1].endswith(": 1 differ")
    named = [line for line in result.stderr.splitlines() if "compiles" in line or "other" in line]
    assert named == [f"{path}: index {record['provenance']['index']} ({record['kernel_name']}): other forward"]


def test_a_corpus_with_no_draws_or_a_damaged_shard_is_one_line(warpfuzz, campaign_corpus, tmp_path):
    extracted = warpfuzz.run("redraw", REPO / "corpus" / "sample" / "real")
    assert_one_line_error(extracted, "not a campaign corpus (kind 'extracted')")
    assert_one_line_error(warpfuzz.run("redraw", tmp_path), "no manifest.json; not a warpfuzz corpus")
    path = copy_corpus(campaign_corpus("cpu"), tmp_path / "corpus")
    shard = sorted((path / "records").iterdir())[0]
    data = shard.read_bytes()
    shard.write_bytes(data.replace(b'"grammar":', b'"grammaX":', 1))  # same size: only the record is wrong
    assert_one_line_error(warpfuzz.run("redraw", path), "no usable field 'grammar'", "warpfuzz validate")
    shard.write_bytes(data[:-10])
    before = snapshot(path)
    assert_one_line_error(warpfuzz.run("redraw", path), str(shard), "truncated or appended")
    assert snapshot(path) == before


def test_rounds_stream_in_commit_order_with_empty_rounds_kept():
    """A round with no record (every kernel failed) still has a plan and passes the coverage on."""
    from fuzzer.errors import WarpfuzzError
    from fuzzer.redraw import _rounds

    def rec(index):
        return {"id": str(index), "kernel_type": "k", "grammar": "g", "features": [], "normalized_hash": f"{index:064x}",
                "provenance": {"index": index}, "ir": {"forward": ""}}

    rounds = list(_rounds([rec(1), rec(3), rec(3), rec(25)], 10))
    assert [(r, {i: len(v) for i, v in by_index.items()}) for r, by_index in rounds] == [(0, {1: 1, 3: 2}), (1, {}), (2, {25: 1})]
    with pytest.raises(WarpfuzzError, match="not in commit order"):
        list(_rounds([rec(25), rec(3)], 10))


TILE_OF_BLOCK = '''import warp as wp
wp.set_module_options({{'block_dim': {block}}})

@wp.kernel
def tile_of_{block}(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.untile(wp.tile(a[i] * 1.0)) + a[i]
'''


def test_recompile_builds_a_kernel_only_with_kernels_of_its_module_options(tmp_path):
    """``wp.tile(x)`` is a tile of the module's ``block_dim`` elements, and a module's last
    ``wp.set_module_options`` sets it for all its kernels. The campaign never puts kernels of two
    block sizes in one cuda module; ``--recompile`` batched its picks in corpus order, and a
    production run's check failed on two tile kernels of block size 32 built with 64."""
    from backends.warp_ir import init_warp
    from fuzzer.pipeline import compile_kernels
    from fuzzer.pool import LocalPool
    from fuzzer.redraw import RedrawReport, _recompile
    from fuzzer.shards import CorpusWriter

    init_warp()
    records = []
    for index, block in enumerate((32, 64)):
        source, name = TILE_OF_BLOCK.format(block=block), f"tile_of_{block}"
        job = {"backend": "cuda", "oracles": [], "seed": 0, "kernels": [{"key": name, "source": source, "kernel_name": name, "hints": None}]}
        (result,) = compile_kernels(job, str(tmp_path))  # alone, as the campaign builds it with its own block size
        assert result["outcome"] == "ok", result
        records.append({"normalized_hash": name, "kernel_name": name, "python_source": source, "ir": result["ir"],
                        "provenance": {"index": index}})
    assert "tile_shape_t<32>" in records[0]["ir"]["forward"] and "tile_shape_t<64>" in records[1]["ir"]["forward"]
    settings = {"backend": "cuda", "seed": 0, "compile_batch": 25, "cpu_opt": None}
    CorpusWriter(tmp_path / "corpus", settings).commit({"records": records}, state={})
    report = RedrawReport()
    with LocalPool(1) as pool:
        _recompile(tmp_path / "corpus", settings, 2, 2, pool, report)
    assert report.recompiled == 2 and report.ir_differences == []
