"""warpfuzz's cache directory, and the small tables kept in it.

``$WARPFUZZ_CACHE_DIR`` (default ``$XDG_CACHE_HOME/warpfuzz``, else ``~/.cache/warpfuzz``) holds
what is costly to make and the same every time it is made: Warp's precompiled headers
(``backends.warp_ir.PchCache``) and the builtin tables the grammars read from Warp's registry
(``fuzzer.builtins``). Each entry is named by everything it was made from, so a changed Warp or a
changed warpfuzz never reads a stale one, and an entry that is missing, unreadable or unwritable
is simply made again: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable


def cache_root() -> str:
    return os.environ.get("WARPFUZZ_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "warpfuzz")


def _warp_dir() -> str | None:
    """Where the installed Warp package is, found without importing it."""
    spec = importlib.util.find_spec("warp")
    return list(spec.submodule_search_locations)[0] if spec is not None and spec.submodule_search_locations else None


def warp_stamp() -> str:
    """The installed Warp, named without importing it (an import costs a third of a second, and
    a process that imported Warp takes a quarter of a second more to exit): its version, where it
    is, and the size and time of the modules that hold its builtin registry."""
    where = _warp_dir()
    if where is None:
        return "no warp"
    try:
        release = version("warp-lang")
    except PackageNotFoundError:
        release = "unknown"
    parts = [release, where]
    for name in ("builtins.py", "context.py", "types.py"):
        try:
            st = os.stat(os.path.join(where, "_src", name))
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:missing")
    return "|".join(parts)


def warp_native_stamp() -> str:
    """The size and time of every file of the installed Warp's native libraries (``warp/bin``)."""
    where = _warp_dir()
    if where is None:
        return "no warp"
    try:
        entries = sorted(os.scandir(os.path.join(where, "bin")), key=lambda e: e.name)
        return "|".join(f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries if e.is_file())
    except OSError:
        return "no native libraries"


def source_stamp(*modules: str) -> str:
    """The text of warpfuzz's own modules that a table is computed by (``"fuzzer/builtins.py"``)."""
    root = Path(__file__).resolve().parents[1]
    return "|".join(hashlib.sha256((root / m).read_bytes()).hexdigest() for m in modules)


def cached_json(kind: str, key: str, make: Callable[[], Any], load: Callable[[Any], Any] = lambda v: v) -> Any:
    """``load(make())``, made once per ``key`` and kept as JSON in ``<cache root>/<kind>/``: a kept
    one is read back through ``load``; one that is not there, not JSON or that ``load`` rejects
    (any exception) is made again and replaced (written to a temp name, then renamed)."""
    path = os.path.join(cache_root(), kind, hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
    try:
        with open(path, encoding="utf-8") as f:
            return load(json.load(f))
    except Exception:  # missing, unreadable, corrupt or of another shape: make it again
        pass
    value = make()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
    return load(value)
