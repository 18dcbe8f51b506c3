"""Session fixtures: the CLI runner and one small campaign per backend that many tests read
(made once, never modified by a test: copy it first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import Warpfuzz


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
