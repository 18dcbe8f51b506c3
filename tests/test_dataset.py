"""The dataset as a product: near-duplicate clusters, splits, Parquet export, card, contamination.

The corpus fixture is made of real records: kernels drawn by the elementwise grammar, normalized,
loaded into Warp and captured (CPU C++ for all, CUDA C++ and PTX for a few), plus near-duplicate
variants made by changing one literal of a drawn kernel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from backends import ir_levels, warp_ir
from fuzzer import neardup
from fuzzer.card import card_stats, size_category, toolchain_versions, write_card
from fuzzer.cli import main
from fuzzer.draw import Drawer
from fuzzer.coverage import coverage_report
from fuzzer.errors import WarpfuzzError
from fuzzer.export import IR_TYPE, PROVENANCE_TYPE, SCHEMA, export_parquet
from fuzzer.exprs import Plan
from fuzzer.features import builtins_used
from fuzzer.neardup import NearDup, cluster_report, contamination
from fuzzer.normalize import normalize
from fuzzer.plugins import grammars
from fuzzer.record import IR_FIELDS, OPTIONAL_IR_FIELDS, PROVENANCE_FIELDS, REQUIRED, record_id, validate_record
from fuzzer.render import render
from fuzzer.shards import CorpusWriter, iter_records
from fuzzer.splits import SPLIT_NAMES, split_for

SEED = 11
DRAWN = 16
CUDA_DRAWN = 3
VARIANTS = 3
_FLOAT = re.compile(r"(?<![\w.])(\d+\.\d+)")


def _records_for(source: str, model, index: int, backend: str, workdir) -> dict:
    n = normalize(source, kernel_name=model.kernel_type)
    _, wmodule = warp_ir.load_module(n.source, f"ds_{backend}_{n.hash[:16]}", str(workdir))
    (kernel,) = warp_ir.kernel_instances(wmodule)
    ir = warp_ir.kernel_ir(wmodule, kernel, backend)
    fields = {f: ir[f] for f in ("forward", "backward", "support")}
    if backend == "cuda":
        module_ptx = ir_levels.ptx_for_archs(wmodule, [90])
        entries = warp_ir.split_ptx(module_ptx[90])
        fields["ptx"] = "\n".join(entries[e] for e in ir["entries"])
        fields["ptx_by_arch"] = ir_levels.kernel_ptx_by_arch(module_ptx, ir["entries"])
    record = {
        "id": record_id(backend, n.hash, ir["name"]),
        "backend": backend,
        "kernel_name": ir["name"],
        "kernel_type": model.kernel_type,
        "grammar": model.grammar,
        "python_source": n.source,
        "normalized_hash": n.hash,
        "features": sorted(model.productions),
        "ir": fields,
        "provenance": {
            "warp_version": warp_ir.warp_version(),
            "generator_version": "test",
            "seed": SEED,
            "index": index,
            "options": warp_ir.serializable_options(warp_ir.prepare_module(wmodule, backend)),
            "oracles": {"run": {"label": "ok"}} if backend == "cpu" else {},
        },
    }
    assert validate_record({**record, "cluster_id": neardup.new_cluster_id(n.hash), "split": "train"}) == []
    return record  # without cluster_id and split: export and card assign them as the campaign would


def _variant(source: str) -> str | None:
    """The source with its first float literal changed: a near-duplicate, not an exact one."""
    m = _FLOAT.search(source.split("def ", 1)[-1])
    if not m:
        return None
    offset = source.index("def ")
    start, end = offset + 4 + m.start(), offset + 4 + m.end()
    return source[:start] + str(float(m.group(1)) + 0.125) + source[end:]


def build_records(workdir) -> tuple[list[dict], list[tuple[str, str]]]:
    """Drawn records (CPU, and CUDA for the first few) and (base id, variant id) pairs."""
    warp_ir.init_warp()
    drawer = Drawer([g for g in grammars() if g.name == "elementwise"], Plan())
    records, pairs, seen = [], [], set()
    for index in range(4 * DRAWN):
        if len(seen) == DRAWN:
            break
        model = drawer.draw(SEED, index).model
        source = render(model)
        try:
            record = _records_for(source, model, index, "cpu", workdir)
        except AssertionError:
            raise
        except Exception:  # a kernel Warp rejects is a failure, never a record
            continue
        if record["id"] in seen:
            continue
        seen.add(record["id"])
        records.append(record)
        if len(seen) <= CUDA_DRAWN:
            records.append(_records_for(source, model, index, "cuda", workdir))
        variant = _variant(source)
        if variant and len(pairs) < VARIANTS:
            twin = _records_for(variant, model, index, "cpu", workdir)
            records.append(twin)
            pairs.append((record["id"], twin["id"]))
    assert len(seen) == DRAWN
    return records, pairs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("modules")
    records, pairs = build_records(workdir)
    out = tmp_path_factory.mktemp("corpus") / "tiny"
    writer = CorpusWriter(out, {"seed": SEED, "grammars": ["elementwise"]})
    half = len(records) // 2
    writer.commit({"records": records[:half]}, {"next": half})
    writer.commit({"records": records[half:]}, {"next": len(records)})
    return out, records, pairs


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return str(cache)


# ---------------------------------------------------------------------------------------------
# near-duplicates


def test_variants_join_their_base_cluster_and_distinct_kernels_do_not(corpus):
    _, records, pairs = corpus
    index = NearDup()
    cluster = {r["id"]: index.assign(r) for r in records}
    assert pairs, "the fixture must contain near-duplicate variants"
    for base, twin in pairs:
        assert cluster[base] == cluster[twin]
    by_hash = {r["normalized_hash"]: r for r in records}
    cpu_and_cuda = [r for r in records if r["backend"] == "cuda"]
    for r in cpu_and_cuda:  # the same kernel on two backends is one cluster (source view)
        twins = [o for o in records if o["normalized_hash"] == r["normalized_hash"] and o is not r]
        assert all(cluster[o["id"]] == cluster[r["id"]] for o in twins)
    first = {}
    for r in records:
        first.setdefault(cluster[r["id"]], r)
    assert all(c == neardup.new_cluster_id(r["normalized_hash"]) for c, r in first.items())  # named by the founder
    assert len(first) > len(by_hash) // 2  # drawn kernels are mostly far apart


def test_assignment_is_deterministic_and_resumable(corpus):
    _, records, _ = corpus
    full = NearDup()
    expected = [full.assign(r) for r in records]
    assert [NearDup().assign(r) for r in records[:1]] == expected[:1]
    again = NearDup()
    assert [again.assign(r) for r in records] == expected
    assert again.assign(records[0]) == expected[0]  # re-assigning a known record keeps its id
    cut = len(records) // 2
    stored = [{**r, "cluster_id": c} for r, c in zip(records[:cut], expected[:cut])]
    resumed = NearDup.rebuild(stored)
    assert len(resumed) == cut
    assert [resumed.assign(r) for r in records[cut:]] == expected[cut:]


def test_cluster_report_counts_clusters_and_near_duplicates(corpus):
    out, records, pairs = corpus
    report = cluster_report(out)
    assert report["records"] == len(records)
    assert report["exact_duplicates"] == 0
    assert sum(int(size) * n for size, n in report["size_histogram"].items()) == len(records)
    assert report["near_duplicate_fraction"] == (len(records) - report["clusters"]) / len(records) > 0
    assert report["largest"][0]["records"] >= 2
    assert report["parameters"] == {"num_perm": 64, "shingle": 5, "threshold": 0.8, "views": ["source", "ir"]}


def test_shingles_ignore_definition_hash_suffixes():
    a = neardup.shingle_hashes(neardup.tokens("def kernel_0123abcd(x): return x + 1.0"))
    b = neardup.shingle_hashes(neardup.tokens("def kernel_89efcdab(x): return x + 1.0"))
    c = neardup.shingle_hashes(neardup.tokens("def kernel_89efcdab(x): return x - 1.0"))
    assert a.tolist() == b.tolist() != c.tolist()


def test_contamination_reports_hashes_in_both(corpus, tmp_path):
    out, records, _ = corpus
    real = CorpusWriter(tmp_path / "real", {"kind": "real"})
    real.commit({"records": [records[0], records[-1]]}, {})
    other = CorpusWriter(tmp_path / "other", {"kind": "synthetic"})
    other.commit({"records": [records[-1]]}, {})
    expected = sorted({records[0]["normalized_hash"], records[-1]["normalized_hash"]})
    assert contamination(tmp_path / "real", [out, tmp_path / "other"]) == expected
    assert contamination(tmp_path / "real", [tmp_path / "other"]) == [records[-1]["normalized_hash"]]


# ---------------------------------------------------------------------------------------------
# splits


def test_splits_are_stable_and_about_90_5_5():
    ids = [neardup.new_cluster_id(f"{i:064x}") for i in range(20000)]
    splits = [split_for(c) for c in ids]
    assert splits == [split_for(c) for c in ids]
    share = {s: splits.count(s) / len(splits) for s in SPLIT_NAMES}
    assert abs(share["train"] - 0.90) < 0.01 and abs(share["validation"] - 0.05) < 0.01 and abs(share["test"] - 0.05) < 0.01
    assert split_for("0123456789abcdef") == "train"  # pinned: a split must never move


# ---------------------------------------------------------------------------------------------
# Parquet export, loaded with Hugging Face datasets


def test_export_parquet_splits_load_with_datasets(corpus, tmp_path, hf_cache):
    out, records, pairs = corpus
    summary = export_parquet(out, tmp_path / "pq")
    assert sum(s["records"] for s in summary.values()) == len(records)
    loaded = {}
    for split in SPLIT_NAMES:
        files = [str(tmp_path / "pq" / f) for f in summary[split]["files"]]
        assert files == [str(tmp_path / "pq" / split / "part-00000.parquet")]
        assert pq.read_schema(files[0]).remove_metadata().equals(SCHEMA.remove_metadata())
        if not summary[split]["records"]:  # an empty split still has its file; datasets refuses to load it
            assert pq.read_metadata(files[0]).num_rows == 0
            continue
        ds = datasets.load_dataset("parquet", data_files={split: files}, split=split, cache_dir=hf_cache)
        assert len(ds) == summary[split]["records"]
        assert all(row["split"] == split == split_for(row["cluster_id"]) for row in ds)
        loaded.update({row["id"]: row for row in ds})
    assert set(loaded) == {r["id"] for r in records}
    for r in records:
        row = loaded[r["id"]]
        assert row["python_source"] == r["python_source"] and row["features"] == r["features"]
        assert row["ir"]["forward"] == r["ir"]["forward"]
        assert row["ir"]["ptx"] == r["ir"].get("ptx")  # null for CPU records
        assert json.loads(row["provenance"]["options"]) == r["provenance"]["options"]
        assert json.loads(row["provenance"]["oracles"]) == r["provenance"]["oracles"]
        if r["backend"] == "cuda":
            assert {e["arch"]: e["ptx"] for e in row["ir"]["ptx_by_arch"]} == r["ir"]["ptx_by_arch"]
        else:
            assert row["ir"]["ptx_by_arch"] is None and row["ir"]["llvm"] is None
    for base, twin in pairs:  # near-duplicates never straddle splits
        assert loaded[base]["split"] == loaded[twin]["split"]


def test_jsonl_shards_load_with_datasets(corpus, hf_cache):
    out, records, _ = corpus
    ds = datasets.load_dataset("json", data_files={"records": str(out / "records" / "*.jsonl")}, split="records", cache_dir=hf_cache)
    assert ds["id"] == [r["id"] for r in records]
    assert ds["normalized_hash"] == [r["normalized_hash"] for r in records]


def test_export_is_byte_identical_and_rolls_parts(corpus, tmp_path):
    out, records, _ = corpus
    export_parquet(out, tmp_path / "a")
    export_parquet(out, tmp_path / "b")
    for split in SPLIT_NAMES:
        assert (tmp_path / "a" / split / "part-00000.parquet").read_bytes() == (tmp_path / "b" / split / "part-00000.parquet").read_bytes()
    small = export_parquet(out, tmp_path / "a", rows_per_part=4)
    train = small["train"]
    assert len(train["files"]) == -(-train["records"] // 4)
    assert sorted(p.name for p in (tmp_path / "a" / "train").iterdir()) == [f.split("/")[1] for f in train["files"]]
    assert sum(pq.read_metadata(tmp_path / "a" / f).num_rows for f in train["files"]) == train["records"]


def test_export_schema_covers_the_record_schema():
    assert set(REQUIRED) | {"cluster_id", "split"} == set(SCHEMA.names)
    assert {f for fields in IR_FIELDS.values() for f in fields} | set(OPTIONAL_IR_FIELDS) == set(IR_TYPE.names)
    assert set(PROVENANCE_FIELDS) <= set(PROVENANCE_TYPE.names)


def test_export_refuses_fields_outside_the_schema(corpus, tmp_path):
    _, records, _ = corpus
    bad = CorpusWriter(tmp_path / "bad", {})
    bad.commit({"records": [{**records[0], "ir": {**records[0]["ir"], "mlir": "x"}}]}, {})
    with pytest.raises(WarpfuzzError, match="ir.mlir"):
        export_parquet(tmp_path / "bad", tmp_path / "bad-out")


# ---------------------------------------------------------------------------------------------
# dataset card


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_card_front_matter_and_body(corpus, tmp_path, hf_cache):
    out, records, _ = corpus
    summary = export_parquet(out, out / "data")
    card = write_card(out)
    text = card.read_text(encoding="utf-8")
    meta = _front_matter(text)
    assert meta["license"] == "apache-2.0"
    assert meta["size_categories"] == ["n<1K"]
    assert {"text-generation", "translation"} <= set(meta["task_categories"])
    default, raw = meta["configs"]
    assert default["config_name"] == "default"
    nonempty = [split for split, part in summary.items() if part["records"]]
    assert [f["split"] for f in default["data_files"]] == nonempty  # datasets refuses an empty split
    assert raw["data_files"] == [{"split": "records", "path": "records/*.jsonl"}]
    tools = toolchain_versions()
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", tools["clang_llvm"]) and re.fullmatch(r"\d+\.\d+", tools["nvrtc"])
    for fact in (tools["clang_llvm"], f"CUDA {tools['nvrtc']}", "sm_90", f"| records | {len(records)} |", "Jaccard similarity of 0.8", "| `ir` |"):
        assert fact in text, fact
    assert "more characters]" in text  # the sample record's IR is truncated
    assert "\n\n|" not in text.split("| column |", 1)[1].split("\n\n", 1)[0]  # the schema table is unbroken
    # The card's configs are what the Hub and load_dataset(DIR) read.
    ds = datasets.load_dataset(str(out), cache_dir=hf_cache)
    assert sorted(ds) == sorted(nonempty)
    assert sum(len(ds[s]) for s in ds) == len(records)


def test_card_without_parquet_points_at_the_jsonl(corpus, tmp_path):
    out, records, _ = corpus
    copy = CorpusWriter(tmp_path / "plain", {"seed": SEED})
    copy.commit({"records": records}, {})
    meta = _front_matter(write_card(tmp_path / "plain").read_text(encoding="utf-8"))
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "records", "path": "records/*.jsonl"}]}]


def test_card_stats_counts(corpus):
    out, records, _ = corpus
    stats = card_stats(out)
    assert stats["records"] == stats["corpus"]["records"] == len(records)
    assert dict(stats["counts"]["backend"]) == {"cpu": sum(r["backend"] == "cpu" for r in records), "cuda": CUDA_DRAWN}
    assert dict(stats["counts"]["kernel_type"]) == stats["corpus"]["kernel_types"]  # from fuzzer.stats, not recounted
    assert stats["archs"] == ["sm_90"]
    used = set().union(*(builtins_used(r["features"]) for r in records))
    assert set(stats["builtins_covered"]) == used & set(stats["builtins_covered"]) and stats["builtins_covered"]
    assert len(stats["builtins_covered"]) == coverage_report(out)["builtins_covered"]
    assert sum(covered for _, covered, _ in stats["builtin_coverage"]) == len(stats["builtins_covered"])
    assert size_category(999) == "n<1K" and size_category(1000) == "1K<n<10K"


# ---------------------------------------------------------------------------------------------
# the export and contamination commands


def _campaign_like(records: list[dict], directory) -> None:
    """A corpus whose records carry cluster_id and split, as a campaign writes them."""
    index = NearDup()
    placed = []
    for r in records:
        cluster = index.assign(r)
        placed.append({**r, "cluster_id": cluster, "split": split_for(cluster)})
    CorpusWriter(directory, {"seed": SEED}).commit({"records": placed}, {})


def test_export_command_writes_parquet_and_card_that_load_per_split(corpus, tmp_path, hf_cache, capsys):
    _, records, _ = corpus
    _campaign_like(records, tmp_path / "corpus")
    target = tmp_path / "export"
    assert main(["export", str(tmp_path / "corpus"), "--format", "parquet", "--out", str(target)]) == 0
    assert capsys.readouterr().out.startswith(f"{len(records)} records -> {target}: train ")
    meta = _front_matter((target / "README.md").read_text(encoding="utf-8"))
    (default,) = meta["configs"]  # no JSONL config: the shards are not in the export
    from_card = datasets.load_dataset(str(target), cache_dir=hf_cache)
    raw = datasets.load_dataset("json", data_files=str(tmp_path / "corpus" / "records" / "*.jsonl"), split="train", cache_dir=hf_cache)
    assert len(raw) == len(records)
    for split in SPLIT_NAMES:
        from_jsonl = raw.filter(lambda r: r["split"] == split)["id"]
        if not from_jsonl:
            assert split not in from_card and pq.read_metadata(target / split / "part-00000.parquet").num_rows == 0
            continue
        from_parquet = datasets.load_dataset("parquet", data_files={split: str(target / split / "*.parquet")}, split=split, cache_dir=hf_cache)
        assert from_parquet["id"] == from_card[split]["id"] == from_jsonl


def test_export_command_one_line_errors(corpus, tmp_path, capsys):
    out, _, _ = corpus
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for argv, message in (
        (["export", str(tmp_path / "missing"), "--out", str(tmp_path / "a")], "no manifest.json; not a warpfuzz corpus"),
        (["export", str(out), "--format", "csv", "--out", str(tmp_path / "a")], "unknown export format 'csv': choose parquet"),
        (["export", str(out), "--out", str(tmp_path / "full")], "is not an empty directory: choose a new --out"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "a").exists()


def test_export_inside_the_corpus_refreshes_its_card(corpus, tmp_path):
    out, records, _ = corpus
    copy = CorpusWriter(tmp_path / "inside", {"seed": SEED})
    copy.commit({"records": records}, {})
    assert main(["export", str(tmp_path / "inside"), "--out", str(tmp_path / "inside" / "pq")]) == 0
    default, raw = _front_matter((tmp_path / "inside" / "README.md").read_text(encoding="utf-8"))["configs"]
    assert default["data_files"][0]["path"].startswith("pq/") and raw["data_files"][0]["path"] == "records/*.jsonl"


def test_contamination_command(corpus, tmp_path, capsys):
    out, records, pairs = corpus
    base, twin = pairs[0]
    by_id = {r["id"]: r for r in records}
    real = CorpusWriter(tmp_path / "real", {"kind": "extracted"})
    real.commit({"records": [by_id[twin]]}, {})
    synthetic = CorpusWriter(tmp_path / "synthetic", {"seed": SEED})
    synthetic.commit({"records": [by_id[base]]}, {})
    assert main(["contamination", str(tmp_path / "real"), str(tmp_path / "synthetic")]) == 0  # near, not exact
    printed = capsys.readouterr().out
    assert "exact overlaps (same normalized hash): 0" in printed and "near-duplicate overlaps" in printed
    assert f"synthetic:{base}" in printed
    assert main(["contamination", str(tmp_path / "real"), str(tmp_path / "synthetic"), str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in report["exact"]] == [twin] and report["near"] == []
    assert report["synthetic"] == {str(tmp_path / "synthetic"): 1, str(out): len(records)}


# ---------------------------------------------------------------------------------------------
# optional IR fields in the record schema


def test_optional_ir_fields_are_validated(corpus):
    _, records, _ = corpus
    cpu = {**next(r for r in records if r["backend"] == "cpu"), "cluster_id": "0" * 16, "split": "train"}
    cuda = {**next(r for r in records if r["backend"] == "cuda"), "cluster_id": "0" * 16, "split": "train"}
    name = cpu["kernel_name"]
    good_llvm = f"define dso_local void @{name}_cpu_forward(ptr %a) {{\n  ret void\n}}\n"
    assert validate_record({**cpu, "ir": {**cpu["ir"], "llvm": good_llvm}}) == []
    assert validate_record({**cpu, "ir": {**cpu["ir"], "llvm": "define void @other_cpu_forward() {\n}\n"}}) == [
        "ir.llvm does not define the kernel's forward entry"]
    assert validate_record({**cpu, "ir": {**cpu["ir"], "sass": "Function : x\n"}}) == ["ir.sass is not a cpu field"]
    assert validate_record({**cuda, "ir": {**cuda["ir"], "ptx_by_arch": {"90": "x"}}}) == [
        "ir.ptx_by_arch['90']: keys must be sm_NN and values PTX text", "ir.ptx is not the body of any ir.ptx_by_arch text"]
    wrong_target = {"sm_90": cuda["ir"]["ptx_by_arch"]["sm_90"].replace(".target sm_90", ".target sm_80")}
    assert validate_record({**cuda, "ir": {**cuda["ir"], "ptx_by_arch": wrong_target}}) == ["ir.ptx_by_arch['sm_90'] has no '.target sm_90' line"]
    assert validate_record({**cuda, "ir": {**cuda["ir"], "sass": "Function : other\n"}}) == ["ir.sass does not start with the kernel's entry"]


# ---------------------------------------------------------------------------------------------
# the committed sample (make sample)


SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "sample"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="no committed corpus/sample")
def test_committed_sample_is_valid_small_carded_exportable_and_uncontaminated(tmp_path):
    from fuzzer.sample import CAMPAIGNS, MAX_BYTES, REAL, directory_bytes
    from fuzzer.shards import validate_corpus

    names = [backend for backend, *_ in CAMPAIGNS] + [REAL]
    assert sorted(p.name for p in SAMPLE.iterdir()) == sorted(names)
    assert directory_bytes(SAMPLE) <= MAX_BYTES
    for name in names:
        count, problems = validate_corpus(SAMPLE / name)
        assert count and problems == [], (name, problems[:3])
        assert sum(part["records"] for part in export_parquet(SAMPLE / name, tmp_path / name).values()) == count
        meta = _front_matter((SAMPLE / name / "README.md").read_text(encoding="utf-8"))
        assert meta["configs"][0]["data_files"] == [{"split": "records", "path": "records/*.jsonl"}]
    assert all(r["provenance"]["source"]["license"] == "Apache-2.0" for r in iter_records(SAMPLE / REAL))
    assert contamination(SAMPLE / REAL, [SAMPLE / backend for backend, *_ in CAMPAIGNS]) == []


def test_sample_swap_replaces_the_old_sample_whole(tmp_path):
    from fuzzer.sample import _swap

    out, new = tmp_path / "sample", tmp_path / ".sample-new"
    (out / "cpu").mkdir(parents=True)
    (out / "cpu" / "stale.jsonl").write_text("old")
    (new / "cpu").mkdir(parents=True)
    (new / "cpu" / "records.jsonl").write_text("new")
    _swap(new, out)
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*"))] == ["cpu", "cpu/records.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample"]  # no temp or old directory left


def test_the_card_regenerates_a_campaign_with_the_settings_that_are_not_defaults():
    from fuzzer.card import regenerate_command
    from fuzzer.plugins import grammar_names

    base = {"backend": "cuda", "seed": 7, "grammars": grammar_names(), "oracles": "none", "steer": True, "swarm": True}
    assert regenerate_command(base | {"round_size": 200, "max_ir_kb": 256}, 3116, "corpus/cuda") == (
        "warpfuzz campaign --backend cuda --out corpus/cuda --count 3116 --seed 7 --oracles none")
    assert regenerate_command(base | {"round_size": 10, "max_ir_kb": 0, "swarm": False}, 5, "c") == (
        "warpfuzz campaign --backend cuda --out c --count 5 --seed 7 --oracles none --no-swarm --round-size 10 --max-ir-kb 0")
    # a corpus made before the limit existed had none
    assert regenerate_command(base | {"round_size": 200}, 5, "c").endswith("--oracles none --max-ir-kb 0")
