"""CPU against CUDA on a real GPU: the ``cuda`` oracle agrees with the CPU on a correct kernel and
reports a planted difference. Skipped where Warp sees no CUDA device (CI, the 2-core machine)."""

from __future__ import annotations

import pytest

from fuzzer import outcomes
from fuzzer.oracles import run_oracles

# ``div.approx.f32`` (Warp's ``div_approx`` on the GPU) flushes to zero for a divisor in
# [2^126, 2^128]; the CPU divides exactly: 3e38 / 2e38 is 1.5 on the CPU and 0 on the GPU
PLANTED = '''
import warp as wp


@wp.kernel
def approx(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.div_approx(x[i] * 0.0 + 3.0e38, 2.0e38)
'''


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    from backends.warp_ir import init_warp, load_module, prepare_module

    wp = init_warp(str(tmp_path_factory.mktemp("cache")))
    if wp.get_cuda_device_count() == 0:
        pytest.skip("no CUDA device")
    work = tmp_path_factory.mktemp("modules")

    def _load(name: str, source: str):
        mod, wmodule = load_module(source, f"{name}_gpu", str(work))
        prepare_module(wmodule, "cpu")
        return getattr(mod, name)

    return _load


def test_a_correct_kernel_agrees_on_cpu_and_cuda(load):
    from support import FIXTURES

    kernel = load("correct", (FIXTURES / "known" / "correct.py").read_text())
    report = run_oracles(kernel, oracles={"run", "cuda"})
    assert report.label == outcomes.OK, report.diagnostic
    assert {name: d["status"] for name, d in report.details.items()} == {"run": "ok", "cuda": "ok"}


def test_a_planted_cpu_cuda_difference_is_a_mismatch(load):
    report = run_oracles(load("approx", PLANTED), oracles={"run", "cuda"})
    assert report.details["run"]["status"] == outcomes.OK
    assert report.details["cuda"]["status"] == report.label != outcomes.OK
    assert report.diagnostic == "cpu vs cuda differ in out: max abs difference 1.5"
