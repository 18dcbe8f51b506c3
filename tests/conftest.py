"""Session fixtures: the CLI runner and one small campaign per backend that many tests read
(made once, never modified by a test: copy it first)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support import Warpfuzz


def pytest_configure(config):
    """Workers share precompiled headers through a cache (``backends.warp_ir.PchCache``); the tests
    keep theirs in a temp dir of the session, which every subprocess inherits, not in ~/.cache."""
    os.environ["WARPFUZZ_CACHE_DIR"] = config._warpfuzz_cache = tempfile.mkdtemp(prefix="warpfuzz-test-cache-")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_warpfuzz_cache", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def warpfuzz(tmp_path_factory) -> Warpfuzz:
    return Warpfuzz(tmp_path_factory.mktemp("cli-tmp"))


@pytest.fixture(scope="session")
def campaign_corpus(warpfuzz, tmp_path_factory):
    """``campaign_corpus(backend)``: the directory of that backend's session campaign (read-only)."""
    made: dict[str, Path] = {}

    def get(backend: str) -> Path:
        if backend not in made:
            out = tmp_path_factory.mktemp(f"campaign-{backend}") / "corpus"
            warpfuzz.campaign(backend, out)
            made[backend] = out
        return made[backend]

    return get
