"""``--executor ray`` makes the same records as the local process pool, on a Ray instance the test
starts (and stops) itself; the Ray tests skip when the ``ray`` extra is not installed."""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fuzzer.campaign import CampaignConfig, make_executor
from fuzzer.errors import WarpfuzzError
from fuzzer.shards import STREAMS
from support import communicate_all

REPO = Path(__file__).resolve().parent.parent

# A head node owned by this process: ray.shutdown() stops every process ray.init started.
HEAD = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, _temp_dir=sys.argv[1],
         logging_level="ERROR")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""

# no usage reports, every Ray address on the loopback interface, and a token of the test's own
# (Ray would otherwise share one through ~/.ray)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def ray_address():
    pytest.importorskip("ray")
    temp_dir = tempfile.mkdtemp(prefix="wfray-")  # short: Ray's socket paths live under it
    head = subprocess.Popen([sys.executable, "-c", HEAD, temp_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ | RAY_ENV, start_new_session=True)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(head.stdout, selectors.EVENT_READ)
            address = head.stdout.readline().strip() if sel.select(timeout=120) else ""
        assert ":" in address, f"the Ray head did not start: {address}"
        yield address
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        head.stdout.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _campaign(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fuzzer", "campaign", "--backend", "cpu", "--out", str(out), "--count", "12",
         "--round-size", "6", "--seed", "7", "--grammar", "elementwise", "--workers", "2", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | RAY_ENV)


def _streams(out: Path) -> dict[str, bytes]:
    return {s: b"".join(p.read_bytes() for p in sorted((out / s).glob("*.jsonl"))) for s in STREAMS}


def test_ray_executor_makes_the_same_records_as_the_local_pool(ray_address, tmp_path):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    procs = [_campaign(local), _campaign(on_ray, "--executor", "ray", "--address", ray_address)]
    outputs = communicate_all(procs, timeout=240)
    for p, output in zip(procs, outputs):
        assert p.returncode == 0, output
    assert _streams(on_ray) == _streams(local)
    assert _streams(local)["records"].count(b"\n") == 12


def test_unreachable_address_is_a_one_line_error():
    pytest.importorskip("ray")
    from fuzzer.ray_executor import RayPool

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WarpfuzzError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        with RayPool(1, address=f"127.0.0.1:{port}") as pool:
            list(pool.map([]))


def test_missing_ray_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(WarpfuzzError, match=r"--executor ray needs the ray extra: pip install '\.\[ray\]'"):
        make_executor(CampaignConfig(backend="cpu", out=tmp_path, executor="ray"))


def test_a_campaign_with_an_unreachable_cluster_writes_nothing(tmp_path, capsys):
    pytest.importorskip("ray")
    from fuzzer import cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "corpus"
    code = cli.main(["campaign", "--backend", "cpu", "--out", str(out), "--count", "2", "--executor", "ray",
                     "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot reach the Ray cluster" in err[0]
    assert not out.exists()
