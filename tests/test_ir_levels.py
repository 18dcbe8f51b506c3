"""Extra IR levels, from real compiles of two tiny kernels: CPU LLVM IR, PTX per arch, SASS."""

from __future__ import annotations

import pytest

from backends import ir_levels, warp_ir
from fuzzer.errors import WarpfuzzError

SCALE = """
@wp.func
def twice(x: float):
    return x * 2.0

@wp.kernel
def scale(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.sin(twice(a[i]))
"""
NORM = """
@wp.kernel
def norm(v: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.length(v[i]) + 1.0
"""
HEADER = "import warp as wp\n"


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    warp_ir.init_warp()
    directory = str(tmp_path_factory.mktemp("ir-levels"))
    _, both = warp_ir.load_module(HEADER + SCALE + NORM, "irl_both", directory)
    _, alone = warp_ir.load_module(HEADER + SCALE, "irl_alone", directory)
    return both, alone


def _entries(wmodule, name: str) -> list[str]:
    kernel = next(k for k in warp_ir.kernel_instances(wmodule) if k.key == name)
    return warp_ir.kernel_ir(wmodule, kernel, "cuda")["entries"]


def test_cpu_llvm_ir_per_kernel_is_clean_and_independent_of_batch(modules):
    both, alone = modules
    before = dict(both.options)
    llvm = ir_levels.cpu_llvm_ir(both)
    assert both.options == before  # the print flags do not leak into later builds
    assert sorted(llvm) == ["norm", "scale"]
    scale = llvm["scale"]
    assert "define dso_local void @scale_cpu_forward(" in scale and "@scale_cpu_backward(" in scale
    assert "norm_cpu" not in scale and "scale_cpu" not in llvm["norm"]
    for module_level in ("ModuleID", "source_filename", "target triple", "attributes #", "!tbaa", "!llvm", " #0"):
        assert module_level not in scale, module_level
    assert ir_levels.cpu_llvm_ir(alone)["scale"] == scale  # same kernel alone or batched: same text


def test_llvm_split_keeps_reachable_helpers_only():
    dump = (
        "; ModuleID = '/tmp/x.cpp'\n"
        "define internal float @helper(float %x) #1 {\n  ret float %x\n}\n"
        "define internal float @unused(float %x) #1 {\n  ret float %x\n}\n"
        "; Function Attrs: nounwind\n"
        "define void @k_cpu_forward(ptr %a) #0 {\n  %v = call float @helper(float 1.0) #5, !tbaa !3\n  ret void\n}\n"
        "attributes #0 = { nounwind }\n!3 = !{}\n"
    )
    functions = ir_levels.split_llvm_module(dump)
    assert list(functions) == ["helper", "unused", "k_cpu_forward"]
    text = ir_levels.llvm_for_entries(functions, ["k_cpu_forward", "k_cpu_backward"])
    assert text == (
        "define internal float @helper(float %x) {\n  ret float %x\n}\n\n"
        "; Function Attrs: nounwind\n"
        "define void @k_cpu_forward(ptr %a) {\n  %v = call float @helper(float 1.0)\n  ret void\n}\n"
    )


def test_ptx_for_archs_and_per_kernel_entries(modules):
    both, _ = modules
    ptx = ir_levels.ptx_for_archs(both, [90, 75, 86])
    assert sorted(ptx) == [75, 86, 90]
    assert ptx[75].replace(".target sm_75", ".target sm_86") == ptx[86]  # 75..89 differ only in .target
    per_kernel = ir_levels.kernel_ptx_by_arch(ptx, _entries(both, "scale"))
    assert sorted(per_kernel) == ["sm_75", "sm_86", "sm_90"]
    assert per_kernel["sm_90"].startswith(".version ") and "\n.target sm_90\n" in per_kernel["sm_90"]
    assert ".entry scale_cuda_kernel_forward(" in per_kernel["sm_90"] and "norm_cuda" not in per_kernel["sm_90"]


def test_unsupported_arch_is_a_one_line_error(modules):
    both, _ = modules
    with pytest.raises(WarpfuzzError, match="unsupported arch 70: NVRTC here supports 75"):
        ir_levels.ptx_for_archs(both, [70, 90])


def test_sass_for_arch(modules):
    cuobjdump, reason = ir_levels.sass_tools()
    if cuobjdump is None:
        pytest.skip(reason)
    both, _ = modules
    functions = ir_levels.sass_for_arch(both, 86)
    entries = _entries(both, "norm")
    assert set(entries) <= set(functions)
    text = ir_levels.kernel_sass(functions, entries)
    assert text.startswith(f"Function : {entries[0]}\n")
    assert "EXIT" in text and "/* 0x" not in text and "scale_cuda" not in text
    assert ir_levels.sass_for_arch(both, 86) == functions


# ---------------------------------------------------------------------------------------------
# choosing levels: campaign, extract, and their one-line errors


def _records(directory) -> list[dict]:
    from fuzzer.shards import iter_records, validate_corpus

    count, problems = validate_corpus(directory)
    assert problems == [] and count
    return list(iter_records(directory))


def _settings(directory) -> dict:
    import json

    return json.loads((directory / "manifest.json").read_text())["settings"]


def _campaign(out, backend: str, *extra: str) -> int:
    from fuzzer.cli import main

    return main(["campaign", "--backend", backend, "--out", str(out), "--count", "2", "--grammar", "elementwise", "--oracles", "none",
                 "--workers", "2", "--round-size", "10", "--seed", "5", *extra])


def test_campaign_with_llvm_level(tmp_path, capsys):
    assert _campaign(tmp_path / "llvm", "cpu", "--ir", "cpp,llvm") == 0
    records = _records(tmp_path / "llvm")
    assert len(records) == 2
    for r in records:
        assert set(r["ir"]) == {"forward", "backward", "support", "llvm"}
        assert f"define dso_local void @{r['kernel_name']}_cpu_forward(" in r["ir"]["llvm"]
    assert _settings(tmp_path / "llvm")["ir_levels"] == ["cpp", "llvm"]
    assert (tmp_path / "llvm" / "README.md").read_text().count("| IR levels | cpp, llvm |") == 1  # the card, at completion
    # a corpus made with other levels is refused on resume
    assert _campaign(tmp_path / "llvm", "cpu") == 2
    assert "different settings (batching, ir_levels)" in capsys.readouterr().err  # the llvm IR depends on the batch


def test_campaign_with_archs(tmp_path):
    assert _campaign(tmp_path / "archs", "cuda", "--arch", "75,86") == 0
    records = _records(tmp_path / "archs")
    for r in records:
        assert set(r["ir"]) == {"forward", "backward", "support", "ptx", "ptx_by_arch"}
        assert sorted(r["ir"]["ptx_by_arch"]) == ["sm_75", "sm_86"]
        assert r["ir"]["ptx_by_arch"]["sm_75"].endswith("\n\n" + r["ir"]["ptx"])  # the first arch is the primary
        assert "\n.target sm_86\n" in r["ir"]["ptx_by_arch"]["sm_86"]
    assert _settings(tmp_path / "archs")["archs"] == [75, 86] and "ir_levels" not in _settings(tmp_path / "archs")


def test_default_levels_add_no_fields_or_settings(tmp_path):
    assert _campaign(tmp_path / "default", "cpu", "--ir", "cpp") == 0
    assert all(set(r["ir"]) == {"forward", "backward", "support"} for r in _records(tmp_path / "default"))
    assert not {"ir_levels", "archs"} & set(_settings(tmp_path / "default"))


def test_extract_with_levels(tmp_path):
    from fuzzer.cli import main

    source = tmp_path / "user_kernels.py"
    source.write_text(HEADER + SCALE)
    assert main(["extract", str(source), "--backend", "cpu", "--out", str(tmp_path / "cpu"), "--ir", "llvm", "--workers", "1"]) == 0
    (record,) = _records(tmp_path / "cpu")
    assert "@scale_cpu_forward(" in record["ir"]["llvm"] and record["provenance"]["source"]["path"] == "user_kernels.py"
    levels = ["--arch", "75,90"] + (["--ir", "sass"] if ir_levels.sass_tools()[0] else [])
    assert main(["extract", str(source), "--backend", "cuda", "--out", str(tmp_path / "cuda"), "--workers", "1", *levels]) == 0
    (record,) = _records(tmp_path / "cuda")
    assert sorted(record["ir"]["ptx_by_arch"]) == ["sm_75", "sm_90"]
    assert ("sass" in record["ir"]) == ("--ir" in levels)
    assert (tmp_path / "cuda" / "README.md").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "cpu", "--ir", "ptx"], "unknown IR level 'ptx' for the cpu backend: choose from cpp, llvm"),
        (["--backend", "cpu", "--arch", "80"], "--arch applies to a backend that compiles for GPU archs; cpu has none"),
        (["--backend", "cuda", "--arch", "70"], "unsupported arch 70: NVRTC here supports 75"),
        (["--backend", "cuda", "--arch", "sm_x"], "bad --arch 'sm_x'"),
        (["--backend", "cuda", "--ir", ","], "bad --ir ','"),
    ],
)
def test_level_errors_are_one_line(tmp_path, capsys, argv, message):
    from fuzzer.cli import main

    assert main(["campaign", "--out", str(tmp_path / "out"), "--count", "1", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("warpfuzz: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_sass_without_tools_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from fuzzer.cli import main

    monkeypatch.setattr(ir_levels, "sass_tools", lambda: (None, "cuobjdump not found: " + ir_levels.SASS_TOOLS_HINT))
    assert main(["campaign", "--backend", "cuda", "--out", str(tmp_path / "out"), "--count", "1", "--ir", "sass"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"warpfuzz: error: cuobjdump not found: {ir_levels.SASS_TOOLS_HINT}"
