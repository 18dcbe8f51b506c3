"""Durable corpus storage: JSONL shards plus ``manifest.json``, the commit point.

A commit writes each new shard to a temp file, fsyncs and renames it, then does the same for the
manifest. A process killed at any moment leaves either the old manifest (the new shards are
orphans, removed on the next open) or the new one: committed records are never lost or
duplicated and no shard is half-written. Killed in its first commit, it leaves no manifest, only
shards and temp files, which the next open takes for what they are and removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from fuzzer.errors import WarpfuzzError
from fuzzer.interrupts import signals_held
from fuzzer.record import dumps, validate_record

MANIFEST = "manifest.json"
FORMAT = "warpfuzz-corpus"
FORMAT_VERSION = 1
STREAMS = ("records", "failures")


def _fsync_dir(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals_held():  # a Ctrl-C or SIGTERM in mkstemp, before ``tmp`` is known, left the temp file
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    _fsync_dir(path.parent)


@dataclass
class ShardInfo:
    name: str
    records: int
    bytes: int
    sha256: str


def _shard_file_pattern(stream: str) -> re.Pattern:
    """A stream's shard names and the temp names ``atomic_write`` gives them while they are written."""
    name = rf"{stream}-\d{{6}}\.jsonl"
    return re.compile(rf"{name}|\.{name}\.[A-Za-z0-9_]+\.tmp")


_SHARD_FILES = {stream: _shard_file_pattern(stream) for stream in STREAMS}
_MANIFEST_TEMP = re.compile(rf"\.{re.escape(MANIFEST)}\.[A-Za-z0-9_]+\.tmp")


def _regular_file(path: Path) -> bool:
    return stat.S_ISREG(path.lstat().st_mode)


def _first_commit_leftovers(out: Path) -> bool:
    """Whether all that ``out`` (a directory without a manifest) holds is what a campaign killed in
    its first commit leaves: the stream directories with its shards and their temp files in them,
    and the temp file of its manifest. None of it was committed; the writer removes it on open.
    What it cannot read is not that."""
    try:
        for entry in out.iterdir():
            if entry.name in STREAMS and entry.is_dir() and not entry.is_symlink():
                if all(_SHARD_FILES[entry.name].fullmatch(p.name) and _regular_file(p) for p in entry.iterdir()):
                    continue
            elif _MANIFEST_TEMP.fullmatch(entry.name) and _regular_file(entry):
                continue
            return False
    except OSError:
        return False
    return True


def check_output_dir(out: Path) -> None:
    """Refuse a directory we cannot write, or one that holds something other than a corpus (or what
    a campaign killed before its first commit ended leaves)."""
    if out.exists() and not out.is_dir():
        raise WarpfuzzError(f"output path {str(out)!r} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists() and not _first_commit_leftovers(out):
        raise WarpfuzzError(f"output directory {str(out)!r} is not empty and has no {MANIFEST}: refusing to write into it")
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not probe.is_dir():
        raise WarpfuzzError(f"output directory {str(out)!r} cannot be created: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise WarpfuzzError(f"output directory {str(out)!r} is not writable")


def read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WarpfuzzError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise WarpfuzzError(f"{path}: not a warpfuzz manifest")
    problem = _manifest_problem(manifest)
    if problem:
        raise WarpfuzzError(f"{path}: corrupt manifest: {problem}")
    return manifest


_SHARD_FIELDS = {"name": str, "records": int, "bytes": int, "sha256": str}


def _manifest_problem(manifest: dict) -> str | None:
    """What makes a manifest with the right ``format`` unusable, or None."""
    for key in ("settings", "state", "streams"):
        if not isinstance(manifest.get(key), dict):
            return f"field {key!r} must be an object"
    for stream in STREAMS:
        shards = manifest["streams"].get(stream)
        if not isinstance(shards, list):
            return f"field 'streams.{stream}' must be a list of shards"
        for i, shard in enumerate(shards):
            where = f"streams.{stream}[{i}]"
            if not isinstance(shard, dict):
                return f"field {where!r} must be an object"
            for key, typ in _SHARD_FIELDS.items():
                if not isinstance(shard.get(key), typ) or isinstance(shard.get(key), bool):
                    return f"field '{where}.{key}' must be {'a string' if typ is str else 'an integer'}"
            if shard["name"] != os.path.basename(shard["name"]) or shard["name"].startswith("."):
                return f"field '{where}.name' must be a plain file name, not {shard['name']!r}"
    return None


# settings that corpora record since a later version of warpfuzz (generator 0.3.0 made corpora
# without them): the versions of the libraries that draw and print the kernels
RECORDED_SINCE = ("hypothesis_version", "libcst_version")


def draw_engine_versions() -> dict:
    from importlib.metadata import version

    return {"hypothesis_version": version("hypothesis"), "libcst_version": version("libcst")}


class CorpusWriter:
    """Appends committed shards to a corpus directory, one manifest update per commit."""

    def __init__(self, out: Path, settings: dict):
        self.out = Path(out)
        check_output_dir(self.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. a read-only or virtual file system, where access() says yes
            raise WarpfuzzError(f"output directory {str(self.out)!r} cannot be created: {exc.strerror}") from None
        existing = read_manifest(self.out)
        theirs = existing.get("settings", {}) if existing is not None else {}
        # a corpus made before a setting was recorded is compared without it
        ours = {k: v for k, v in settings.items() if k in theirs or k not in RECORDED_SINCE}
        if existing is not None and theirs != ours:
            changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            raise WarpfuzzError(
                f"output directory {str(self.out)!r} holds a campaign with different settings ({', '.join(changed)}); use another --out"
            )
        self.manifest = existing or {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "settings": settings,
            "streams": {s: [] for s in STREAMS},
            "state": {},
        }
        self._remove_uncommitted()

    def _committed_names(self) -> set[str]:
        return {s["name"] for stream in self.manifest["streams"].values() for s in stream}

    def _remove_uncommitted(self):
        """Orphan shards, and the temp files of any interrupted atomic write (a commit, stats.json,
        the card, a finding), are deleted on open."""
        committed = self._committed_names()
        for stream in STREAMS:
            d = self.out / stream
            if not d.exists():
                continue
            for p in d.iterdir():
                if p.name not in committed:
                    p.unlink()
        for p in self.out.rglob(".*.tmp"):
            p.unlink()

    @property
    def state(self) -> dict:
        return self.manifest["state"]

    def shards(self, stream: str = "records") -> list[dict]:
        return self.manifest["streams"][stream]

    def commit(self, batches: dict[str, list[dict]], state: dict, extra: dict | None = None) -> None:
        """Write one shard per non-empty stream, then the manifest with the new ``state``. A stream's
        items are records, or their lines already encoded with ``record.dumps``."""
        for stream, records in batches.items():
            if not records:
                continue
            number = len(self.manifest["streams"][stream])
            name = f"{stream}-{number:06d}.jsonl"
            data = "".join((r if isinstance(r, str) else dumps(r)) + "\n" for r in records).encode("utf-8")
            atomic_write(self.out / stream / name, data)
            self.manifest["streams"][stream].append(
                {"name": name, "records": len(records), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )
        self.manifest["state"] = state
        if extra:
            self.manifest.update(extra)
        self.manifest["totals"] = {
            stream: {"records": sum(s["records"] for s in shards), "bytes": sum(s["bytes"] for s in shards)}
            for stream, shards in self.manifest["streams"].items()
        }
        atomic_write(self.out / MANIFEST, (json.dumps(self.manifest, indent=1, sort_keys=True) + "\n").encode())


def _checked_shard(out: Path, stream: str, shard: dict) -> Path:
    path = out / stream / shard["name"]
    if not path.exists():
        raise WarpfuzzError(f"{path}: shard listed in the manifest is missing")
    if path.stat().st_size != shard["bytes"]:
        raise WarpfuzzError(f"{path}: size {path.stat().st_size} bytes, manifest says {shard['bytes']} "
                            f"(truncated or appended); run `warpfuzz validate {out}`")
    return path


def check_shards(out: Path, manifest: dict) -> None:
    """The cheap half of reading a corpus, before anything starts: every shard ``manifest`` lists
    is there with the size it gives (one line naming the first that is not)."""
    out = Path(out)
    for stream, shards in manifest.get("streams", {}).items():
        for shard in shards:
            _checked_shard(out, stream, shard)


def iter_records(out: Path, stream: str = "records", *, verify: bool = False) -> Iterator[dict]:
    """Yield every committed record of a corpus directory, in commit order."""
    out = Path(out)
    manifest = read_manifest(out)
    if manifest is None:
        raise WarpfuzzError(f"{out}: no {MANIFEST}; not a warpfuzz corpus")
    for shard in manifest["streams"].get(stream, []):
        path = _checked_shard(out, stream, shard)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise WarpfuzzError(f"{path}:{lineno}: corrupt record ({exc}); run `warpfuzz validate {out}`") from None


@dataclass
class Problem:
    where: str  # "path:line" or "path"
    message: str

    def __str__(self):
        return f"{self.where}: {self.message}"


def validate_corpus(out: Path) -> tuple[int, list[Problem]]:
    """Check every committed shard against the manifest (size, sha256) and every record against the schema."""
    out = Path(out)
    try:
        manifest = read_manifest(out)
    except WarpfuzzError as exc:
        return 0, [Problem(str(out / MANIFEST), str(exc).split(": ", 1)[-1])]
    if manifest is None:
        return 0, [Problem(str(out), f"no {MANIFEST}; not a warpfuzz corpus")]
    problems: list[Problem] = []
    count = 0
    seen_ids = set()
    for stream, shards in manifest["streams"].items():
        for shard in shards:
            path = out / stream / shard["name"]
            if not path.exists():
                problems.append(Problem(str(path), "shard listed in the manifest is missing"))
                continue
            data = path.read_bytes()
            if len(data) != shard["bytes"]:
                problems.append(Problem(str(path), f"size {len(data)} bytes, manifest says {shard['bytes']} (truncated or appended)"))
            elif hashlib.sha256(data).hexdigest() != shard["sha256"]:
                problems.append(Problem(str(path), "sha256 does not match the manifest (corrupted)"))
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            elif lines:
                problems.append(Problem(f"{path}:{len(lines)}", "last line is not newline-terminated (truncated shard)"))
            for lineno, raw in enumerate(lines, 1):
                try:
                    rec = json.loads(raw)
                except ValueError as exc:
                    problems.append(Problem(f"{path}:{lineno}", f"invalid JSON ({exc.msg})"))
                    continue
                if stream == "records":
                    for msg in validate_record(rec):
                        problems.append(Problem(f"{path}:{lineno}", msg))
                    if isinstance(rec, dict):
                        if rec.get("id") in seen_ids:
                            problems.append(Problem(f"{path}:{lineno}", f"duplicate record id {rec.get('id')}"))
                        seen_ids.add(rec.get("id"))
                count += 1
            if len(lines) < shard["records"]:
                problems.append(Problem(f"{path}:{len(lines) + 1}", f"shard ends after {len(lines)} records, manifest says {shard['records']} (truncated shard)"))
            elif len(lines) != shard["records"] and not any(p.where.startswith(str(path)) for p in problems):
                problems.append(Problem(str(path), f"{len(lines)} records, manifest says {shard['records']}"))
    return count, problems
