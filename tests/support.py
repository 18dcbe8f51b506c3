"""Helpers the tests share: the real ``warpfuzz`` CLI in a subprocess, and corpus readers.

Every subprocess gets its own ``TMPDIR`` under pytest's temp root, so worker homes, Warp kernel
caches and precompiled headers land there and nothing is written elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"

# the campaign each backend's fixture corpus is made with (a CUDA kernel costs ~3x a CPU one)
CAMPAIGNS = {
    "cpu": ("--count", "20", "--round-size", "10", "--seed", "3"),
    "cuda": ("--count", "10", "--round-size", "10", "--seed", "3", "--oracles", "none"),
}
CAMPAIGN_TIMEOUT = 300


class Warpfuzz:
    """Runs ``python -m fuzzer ...`` from the repository with a private TMPDIR."""

    def __init__(self, tmpdir: Path):
        self.tmpdir = tmpdir
        tmpdir.mkdir(parents=True, exist_ok=True)

    def env(self, pythonpath: tuple[Path, ...] = ()) -> dict:
        env = dict(os.environ, TMPDIR=str(self.tmpdir), PYTHONUNBUFFERED="1")
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])])
        return env

    def argv(self, *args) -> list[str]:
        return [sys.executable, "-m", "fuzzer", *map(str, args)]

    def run(self, *args, pythonpath: tuple[Path, ...] = (), timeout: float = CAMPAIGN_TIMEOUT) -> subprocess.CompletedProcess:
        """Run to completion; past ``timeout`` the command's process group is killed and the test fails."""
        proc = self.popen(*args, pythonpath=pythonpath, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def popen(self, *args, pythonpath: tuple[Path, ...] = (), **kwargs) -> subprocess.Popen:
        """The command in its own process group, which a test can SIGKILL as a whole (its workers
        have sessions of their own, so they see the kill as their coordinator vanishing)."""
        return subprocess.Popen(self.argv(*args), cwd=REPO, env=self.env(pythonpath), start_new_session=True, **kwargs)

    def campaign(self, backend: str, out: Path, workers: int = 2) -> subprocess.CompletedProcess:
        result = self.run("campaign", "--backend", backend, "--out", out, *CAMPAIGNS[backend], "--workers", workers)
        assert result.returncode == 0, result.stderr[-3000:]
        return result


def shard_bytes(corpus: Path, stream: str = "records") -> bytes:
    """Every committed shard of a stream, concatenated in manifest order."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    return b"".join((corpus / stream / s["name"]).read_bytes() for s in manifest["streams"][stream])


def records_of(corpus: Path) -> list[dict]:
    return [json.loads(line) for line in shard_bytes(corpus).decode().splitlines()]


def copy_corpus(corpus: Path, dest: Path) -> Path:
    shutil.copytree(corpus, dest)
    return dest


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: its bytes and modification time, to prove nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def communicate_all(procs, timeout: float) -> list[str]:
    """Wait for every process (started together, so they run side by side) and return their
    outputs; any still running when one times out is killed, so a test never leaves one behind."""
    try:
        return [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
