"""``warpfuzz replay``: every kernel of a Warp file labelled on its own, whatever its neighbours do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzer import cli, outcomes

KNOWN = Path(__file__).parent / "fixtures" / "known"


def replay(path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fuzzer", "replay", str(path), "--backend", "cpu", "--workers", "1", *options],
                          capture_output=True, text=True, timeout=600)


def test_each_kernel_gets_its_own_label_next_to_a_crash_and_a_codegen_bug(tmp_path):
    # a kernel that fails to build fails its whole Warp module, and one that segfaults kills its
    # process: neither may cost the good kernel its label, nor the crash the kernel after it
    path = tmp_path / "three_kernels.py"
    path.write_text("\n\n".join((KNOWN / f"{name}.py").read_text() for name in ("correct", "oob_write", "tile_of_element")))

    done = replay(path, "--json")

    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["kernel"], r["outcome"]) for r in rows] == [
        ("correct", outcomes.OK),
        ("oob_write", outcomes.CRASH),
        ("tile_of_element", outcomes.WARP_INTERNAL_ERROR),
    ]
    good, crashed, tile = rows
    assert {name: d["status"] for name, d in good["oracles"].items()} == {"run": "ok", "grad": "ok", "debug": "ok", "cuda": "skipped"}
    assert crashed["signature"] == "crash|SIGSEGV||SIGSEGV"
    assert tile["signature"] == ("warp_internal_error|AttributeError|_src/codegen.py:param2str|"
                                 "'Reference' object has no attribute '__name__'")


def test_text_output_is_one_line_per_kernel(tmp_path):
    done = replay(KNOWN / "tile_of_element.py")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().split(None, 2) == ["tile_of_element", outcomes.WARP_INTERNAL_ERROR, "'Reference' object has no attribute '__name__'"]


@pytest.mark.parametrize(
    "name, source, backend, message",
    [
        ("missing.py", None, "cpu", "missing.py: no such file"),
        ("broken.py", "def f(:\n", "cpu", "broken.py: not valid Python (line 1"),
        ("fine.py", "x = 1\n", "no_such_backend", "unknown backend 'no_such_backend'"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, name, source, backend, message):
    path = tmp_path / name
    if source is not None:
        path.write_text(source)
    assert cli.main(["replay", str(path), "--backend", backend]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
