"""warpfuzz's cache of the tables read from Warp (``fuzzer.cache``): the same tables as computed,
made again when missing, corrupt or unwritable, and a coordinator that has them never imports Warp."""

from __future__ import annotations

import json
import subprocess
import sys

from fuzzer import builtins as fb
from fuzzer.cache import cached_json
from support import REPO


def test_cached_tables_are_the_computed_ones_in_the_same_order(tmp_path, monkeypatch):
    monkeypatch.setenv("WARPFUZZ_CACHE_DIR", str(tmp_path))
    for table in (fb.public_builtins, fb.signatures):
        table.cache_clear()
    try:
        cold = fb.public_builtins(), fb.signatures()
        assert len(list((tmp_path / "builtins").iterdir())) == 2
        for table in (fb.public_builtins, fb.signatures):
            table.cache_clear()
        warm = fb.public_builtins(), fb.signatures()
    finally:
        for table in (fb.public_builtins, fb.signatures):
            table.cache_clear()
    computed = fb._public_builtins(), fb._signatures()
    for got in (cold, warm):
        assert list(got[0].items()) == list(computed[0].items())
        assert list(got[1]) == list(computed[1])  # the draws index these lists: order matters
        assert all(got[1][ret] == computed[1][ret] for ret in computed[1])


def test_a_missing_corrupt_or_rejected_entry_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("WARPFUZZ_CACHE_DIR", str(tmp_path))
    made = []

    def make():
        made.append(1)
        return {"a": [1, 2]}

    assert cached_json("t", "key", make) == {"a": [1, 2]} and len(made) == 1
    (entry,) = (tmp_path / "t").iterdir()
    assert cached_json("t", "key", make) == {"a": [1, 2]} and len(made) == 1  # read back
    assert cached_json("t", "other key", make) == {"a": [1, 2]} and len(made) == 2  # an entry of its own
    entry.write_text('{"a": [1,')  # cut short
    assert cached_json("t", "key", make) == {"a": [1, 2]} and len(made) == 3
    assert json.loads(entry.read_text()) == {"a": [1, 2]}  # replaced
    entry.write_text('["another shape"]')
    assert cached_json("t", "key", make, load=lambda v: tuple(v["a"])) == (1, 2) and len(made) == 4
    assert sorted(p.suffix for p in (tmp_path / "t").iterdir()) == [".json", ".json"]  # no temp file left


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("WARPFUZZ_CACHE_DIR", str(blocked))  # no directory can be made under it, even by root
    assert cached_json("t", "key", lambda: [1]) == [1]
    assert blocked.read_text() == "not a directory"


def test_with_the_tables_cached_the_coordinators_needs_import_no_warp():
    """A campaign's coordinator reads the builtin list (the plans, the coverage, the card) and the
    toolchain versions (the card); with them cached it never imports Warp, whose import and exit
    cost it about half a second of a short campaign. The session's cache (conftest) is warmed first."""
    warm = "from fuzzer.builtins import public_builtins; from fuzzer.card import toolchain_versions; public_builtins(); toolchain_versions()"
    subprocess.run([sys.executable, "-c", warm], cwd=REPO, check=True, timeout=300)
    check = (warm + "\nimport sys\nassert 'warp' not in sys.modules, 'Warp imported'\n"
             "from fuzzer.coverage import coverage_report\nassert 'warp' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True, timeout=300)
