"""Kill a campaign with SIGKILL at many moments, resume it each time, and check that it still ends
with the records of an uninterrupted run.

    .venv/bin/python benchmarks/kill_soak.py [--backend cpu] [--count 300] [--round-size 25] [--kills 15]
                                             [--seed 1] [--workers 2] [--kinds random,shard,...] [--kill-seed 0]
                                             [--executor ray] [--worker-kills N] [--reference DIR]

Issue 4 promises that ``kill -9`` at any moment, then the same command again, loses no committed
record, duplicates none, leaves no corrupt shard and no temp file, and ends with the records of an
uninterrupted run. The test suite kills one small campaign at one moment (after its first commit).
This script kills one campaign many times, at moments of five kinds, in turn:

- ``random``: a uniformly random moment of what is left of the run (most land in a compile job);
- ``shard``: as soon as a commit's shard temp file is seen: inside its write, fsync and rename;
- ``manifest``: as soon as a commit's manifest temp file is seen: its shards are renamed but not
  yet listed (orphans), the manifest is being written;
- ``committed``: as soon as ``manifest.json`` is replaced: just after a commit;
- ``start``: within the first 1.5 s of the command: while it reads the corpus, removes what the
  last kill left and starts its workers.

After each kill, before the command runs again, it checks what the killed campaign left: its
processes exit on their own (its workers live in sessions of their own; with ``--executor ray``,
Ray's processes too) and the temp directory is then empty (with Ray, but for Ray's session logs
and the killed workers' homes, which the next start must remove); every shard the manifest lists is there, whole, with its sha256, and every record is valid
(``warpfuzz validate``'s check); the committed records and failures are a prefix of the
uninterrupted run's, and never fewer than after the kill before. At the end the corpus's shards
are, byte for byte, the uninterrupted run's, with its settings, and no temp file or orphan shard is
left. The uninterrupted run is made first, with the same settings, unless ``--reference`` names one.

With ``--worker-kills N`` it then runs the campaign once more, to its end, SIGKILLing one of its
workers (as the OOM killer would) N times, 5 to 15 s apart, in turn: a random worker; one running a
kernel's oracles; the one running that same kernel's oracles again, in its batch's retry. That
corpus too must be the uninterrupted run's: a job whose worker is SIGKILLed from outside runs
again, whole, up to three times (``fuzzer.campaign.OUTSIDE_LOSSES``) before the usual rules (draw
again once, bisect, retry whole once, label) count the loss.

The last line: ``RESULT backend=<b> kills=<n> random=<n> shard=<n> manifest=<n> committed=<n>
start=<n> [worker_kills=<n>] identical=<yes|no> problems=<n>`` (a count for each kind ``--kinds``
chose); the exit status is 1 when any check failed. Not a timed test: it takes a few minutes (a
kill throws away the jobs in flight, and a resumed command starts its workers again).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.throughput import DATASET_ORACLES  # noqa: E402
from fuzzer.errors import WarpfuzzError  # noqa: E402
from fuzzer.pipeline import CURRENT_KERNEL_MARKER  # noqa: E402
from fuzzer.pool import HOME_PREFIX, OWNER_FILE, process_identity  # noqa: E402
from fuzzer.shards import MANIFEST, STREAMS, read_manifest, validate_corpus  # noqa: E402

KINDS = ("random", "shard", "manifest", "committed", "start")
ORPHAN_DEADLINE = 120.0  # seconds for a killed campaign's workers to finish their job and exit
RUN_DEADLINE = 3600.0  # seconds for one command to finish on its own
RETRY_WAIT = 90.0  # seconds a worker kill waits for a killed batch's retry to reach the same kernel


# -- what a corpus holds ----------------------------------------------------------------------------


def committed_lines(out: Path, stream: str) -> list[bytes]:
    """The committed lines of a stream (the shards the manifest lists, in its order); [] before the
    first commit."""
    manifest = read_manifest(out)
    if manifest is None:
        return []
    data = b"".join((out / stream / s["name"]).read_bytes() for s in manifest["streams"][stream])
    return data.splitlines(keepends=True)


def leftovers(out: Path) -> tuple[list[str], list[str]]:
    """Temp files of interrupted atomic writes, and shards no manifest lists (orphans); the next
    command removes both when it opens the corpus."""
    temps = sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp")) if out.exists() else []
    try:
        manifest = read_manifest(out) or {"streams": {}}
    except WarpfuzzError:
        return temps, []
    listed = {s["name"] for shards in manifest["streams"].values() for s in shards}
    orphans = sorted(f"{stream}/{p.name}" for stream in STREAMS if (out / stream).is_dir()
                     for p in (out / stream).iterdir() if p.name not in listed and not p.name.endswith(".tmp"))
    return temps, orphans


def check_killed(out: Path, reference: dict[str, list[bytes]], before: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """What a killed campaign left: the number of committed lines of each stream, and the problems
    (a damaged shard or record, lines that are not the uninterrupted run's first ones, fewer lines
    than ``before``)."""
    counts = {stream: 0 for stream in STREAMS}
    if not (out / MANIFEST).exists():
        problems = [f"{stream}: {before[stream]} committed lines, now no manifest" for stream in STREAMS if before[stream]]
        return counts, problems
    _, found = validate_corpus(out)
    problems = [str(p) for p in found]
    if problems:
        return counts, problems
    for stream in STREAMS:
        lines = committed_lines(out, stream)
        counts[stream] = len(lines)
        expected = reference[stream][: len(lines)]
        if lines != expected:
            first = next((i for i, (a, b) in enumerate(zip(lines, expected)) if a != b), len(expected))
            problems.append(f"{stream}: {len(lines)} committed lines are not the uninterrupted run's first ones "
                            f"(they part at line {first + 1})")
        if len(lines) < before[stream]:
            problems.append(f"{stream}: {len(lines)} committed lines, {before[stream]} after the kill before (lost)")
    return counts, problems


def check_finished(out: Path, reference_dir: Path, reference: dict[str, list[bytes]]) -> list[str]:
    """The resumed campaign's corpus against the uninterrupted run's: the same bytes in every stream,
    the same settings, nothing left over."""
    problems = [str(p) for p in validate_corpus(out)[1]]
    if problems:
        return problems
    for stream in STREAMS:
        lines = committed_lines(out, stream)
        if lines != reference[stream]:
            problems.append(f"{stream}: {len(lines)} lines, {len(reference[stream])} in the uninterrupted run, "
                            f"{sum(a == b for a, b in zip(lines, reference[stream]))} of them the same")
    settings, expected = read_manifest(out)["settings"], read_manifest(reference_dir)["settings"]
    if settings != expected:
        changed = sorted(k for k in set(settings) | set(expected) if settings.get(k) != expected.get(k))
        problems.append(f"settings differ from the uninterrupted run's: {', '.join(changed)}")
    if not read_manifest(out)["state"].get("done"):
        problems.append("the manifest does not say the campaign is done")
    temps, orphans = leftovers(out)
    problems += [f"temp file left: {t}" for t in temps] + [f"orphan shard left: {o}" for o in orphans]
    return problems


# -- the processes ----------------------------------------------------------------------------------


def processes_of(tmpdir: Path) -> list[int]:
    """The live processes whose ``TMPDIR`` is in ``tmpdir``: all that the campaign started, directly or
    not (its workers, clang; with Ray, Ray's own processes and its actors), which a killed campaign
    no longer holds as children."""
    wanted = b"TMPDIR=" + str(tmpdir).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        # a worker's own TMPDIR is inside its home, in ``tmpdir``
        if any(v == wanted or v.startswith(wanted + b"/") for v in environ) and _running(int(entry)):
            found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    return process_identity(pid) is not None


@dataclass
class Soak:
    args: argparse.Namespace
    root: Path  # the temp root: the children's TMPDIR, the corpora, the logs
    tmpdir: Path = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self):
        self.tmpdir = self.root / "tmp"
        self.tmpdir.mkdir()
        self.log = self.root / "campaign.log"

    def command(self, out: Path) -> list[str]:
        a = self.args
        return [sys.executable, "-m", "fuzzer", "campaign", "--backend", a.backend, "--out", str(out), "--count", str(a.count),
                "--round-size", str(a.round_size), "--seed", str(a.seed), "--workers", str(a.workers),
                "--oracles", a.oracles or DATASET_ORACLES[a.backend], "--executor", a.executor]

    def start(self, out: Path) -> subprocess.Popen:
        env = dict(os.environ, TMPDIR=str(self.tmpdir), TEMP=str(self.tmpdir), TMP=str(self.tmpdir), PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as log:
            # its own process group, killed whole; its workers have sessions of their own and see the
            # kill as their coordinator vanishing, as after a `kill -9` of the command
            return subprocess.Popen(self.command(out), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def run_through(self, out: Path) -> tuple[float, int]:
        """Run the command to its end: its seconds and exit status."""
        started = time.monotonic()
        proc = self.start(out)
        try:
            rc = proc.wait(timeout=RUN_DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        return time.monotonic() - started, rc

    def run_until(self, out: Path, kind: str, delay: float) -> tuple[float, str | None, int | None]:
        """Run the command until the moment of ``kind`` comes, then SIGKILL it: the seconds it ran,
        what triggered the kill (None if it finished first) and its exit status if it finished."""
        manifest = out / MANIFEST
        before = manifest.stat().st_mtime_ns if manifest.exists() else None
        # left by the kill before: the command removes them when it opens the corpus
        stale = {k: _commit_temps(out, k) for k in ("shard", "manifest")}
        started = time.monotonic()
        proc = self.start(out)
        try:
            while proc.poll() is None:
                now = time.monotonic() - started
                if kind in ("random", "start") and now >= delay:
                    return self._kill(proc, started, f"at {delay:.1f} s")
                if kind in ("shard", "manifest") and (fresh := _commit_temps(out, kind) - stale[kind]):
                    return self._kill(proc, started, f"{min(fresh)} seen")
                if kind == "committed" and manifest.exists() and manifest.stat().st_mtime_ns != before:
                    return self._kill(proc, started, "manifest.json replaced")
                if now > RUN_DEADLINE:
                    return self._kill(proc, started, "run deadline")
                time.sleep(0.01 if kind in ("random", "start") else 0.0005)
            return time.monotonic() - started, None, proc.returncode
        except BaseException:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise

    @staticmethod
    def _kill(proc: subprocess.Popen, started: float, why: str) -> tuple[float, str, None]:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return time.monotonic() - started, why, None

    def wait_for_processes(self) -> tuple[float, list[int]]:
        """Seconds until the killed campaign's processes are gone (they exit on their own), and those
        still alive at the deadline (which are then killed, so that the script leaves none).

        A process once found is followed by its pid until it ends, not found again by its
        environment: a worker whose coordinator is gone replaces itself with a Python that removes
        its home (``fuzzer.worker._watch_coordinator``), and in the middle of that ``exec`` its
        ``/proc/<pid>/environ`` can read empty; missed then, it was taken for gone while it was still
        removing the home, and the home for one left behind (5 of 106 runs here). Gone is none
        found twice in a row, 0.1 s apart: a scan can land in such an ``exec`` too."""
        started = time.monotonic()
        seen: set[int] = set()
        empty = 0
        while True:
            seen.update(processes_of(self.tmpdir))
            alive = sorted(pid for pid in seen if _running(pid))
            empty = 0 if alive else empty + 1
            if empty == 2 or time.monotonic() - started >= ORPHAN_DEADLINE:
                break
            time.sleep(0.1)
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return time.monotonic() - started, alive

    def check_end(self, out: Path, reference_dir: Path, reference: dict[str, list[bytes]]) -> tuple[list[str], list[str]]:
        """Once a run has ended: the ways its corpus is not the uninterrupted run's, and what else is
        wrong (processes still alive, anything left in the temp dir)."""
        _, alive = self.wait_for_processes()
        left_in_tmp, homes = self.left_in_tmp()
        other = [f"{len(alive)} processes still alive"] if alive else []
        if left_in_tmp or homes:
            other.append(f"the temp dir holds {', '.join((left_in_tmp + homes)[:5])}")
        final = check_finished(out, reference_dir, reference) if (out / MANIFEST).exists() else ["no manifest"]
        return final, other

    def left_in_tmp(self) -> tuple[list[str], list[str]]:
        """What the temp dir holds once the campaign's processes are gone: what should not be there,
        and the worker homes of a killed Ray campaign (Ray kills its actors' workers with them, and
        the next pool on the node removes their homes). Ray's session logs (``ray/``) are Ray's."""
        names = sorted(os.listdir(self.tmpdir))
        if self.args.executor != "ray":
            return names, []
        homes = [n for n in names if n.startswith(HOME_PREFIX)]
        return [n for n in names if n != "ray" and n not in homes], homes


def _named(temps: list[str]) -> str:
    """`` (.manifest.json.x1.tmp, records/.records-000001.jsonl.y2.tmp)`` for the temp files a kill
    left, or nothing: which write the kill landed in."""
    return f" ({', '.join(temps)})" if temps else ""


def _commit_temps(out: Path, kind: str) -> set[str]:
    """The temp files of a commit's shards (``kind`` shard) or manifest (``manifest``) in the corpus now."""
    if kind == "manifest":
        directories, prefixes = [out], (".manifest.json.",)
    else:
        directories, prefixes = [out / stream for stream in STREAMS], tuple(f".{stream}-" for stream in STREAMS)
    found = set()
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found.update(os.path.relpath(directory / name, out) for name in names if name.endswith(".tmp") and name.startswith(prefixes))
    return found


def _reference_lines(corpus: Path) -> dict[str, list[bytes]]:
    return {stream: committed_lines(corpus, stream) for stream in STREAMS}


def soak(args: argparse.Namespace, root: Path) -> int:
    s = Soak(args, root)
    problems: list[str] = []
    if args.reference is not None:
        reference_dir = args.reference
        try:
            reference_seconds = float(json.loads((reference_dir / "stats.json").read_text())["elapsed_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            reference_seconds = 60.0  # only where the random moments fall
        print(f"uninterrupted run: {reference_dir} (given)")
    else:
        reference_dir = root / "uninterrupted"
        reference_seconds, rc = s.run_through(reference_dir)
        if rc != 0:
            raise SystemExit(f"kill_soak.py: the uninterrupted campaign failed (exit {rc}):\n{s.log_tail()}")
        print(f"uninterrupted run: {reference_seconds:.1f} s")
    try:
        reference = _reference_lines(reference_dir)
    except (WarpfuzzError, OSError) as exc:
        raise SystemExit(f"kill_soak.py: {reference_dir}: not a finished corpus ({exc})")
    print(f"  {len(reference['records'])} records, {len(reference['failures'])} failures, "
          f"{sum(map(len, reference['records'])):,} record bytes; `{' '.join(s.command(Path('DIR'))[1:])}`")

    out = root / "killed"
    rng = random.Random(args.kill_seed)
    before = {stream: 0 for stream in STREAMS}
    kinds: dict[str, int] = dict.fromkeys(args.kinds, 0)
    finished = False
    for number in range(1, args.kills + 1):
        kind = args.kinds[(number - 1) % len(args.kinds)]
        left = 1 - before["records"] / max(1, len(reference["records"]))
        delay = rng.uniform(0.05, 1.5) if kind == "start" else rng.uniform(0.5, max(1.0, 0.8 * reference_seconds * left))
        seconds, why, rc = s.run_until(out, kind, delay)
        if why is None:  # it finished before its moment came
            print(f"run {number:2d} ({kind}): finished on its own in {seconds:.1f} s, exit {rc}")
            finished = True
            if rc != 0:
                problems.append(f"run {number} exited {rc}:\n{s.log_tail()}")
            break
        kinds[kind] += 1
        gone, alive = s.wait_for_processes()
        left_in_tmp, homes = s.left_in_tmp()
        temps, orphans = leftovers(out)
        counts, found = check_killed(out, reference, before)
        print(f"kill {number:2d} {kind:9s} after {seconds:5.1f} s ({why}): {counts['records']} records and "
              f"{counts['failures']} failures committed; left {len(temps)} temp files{_named(temps)} and {len(orphans)} orphan shards; "
              f"processes gone in {gone:.1f} s; temp dir {'empty' if not left_in_tmp else 'NOT empty'}"
              + (f" ({len(homes)} worker homes for the next start to remove)" if homes else ""))
        if alive:
            found.append(f"{len(alive)} processes still alive {ORPHAN_DEADLINE:.0f} s after the kill (killed now)")
        if left_in_tmp:
            found.append(f"the temp dir holds {', '.join(left_in_tmp[:5])}{' ...' if len(left_in_tmp) > 5 else ''}")
        problems += [f"kill {number}: {p}" for p in found]
        before = {stream: max(before[stream], counts[stream]) for stream in STREAMS}

    if not finished:
        seconds, rc = s.run_through(out)
        print(f"resumed to the end in {seconds:.1f} s, exit {rc}")
        if rc != 0:
            problems.append(f"the last run exited {rc}:\n{s.log_tail()}")
    final, other = s.check_end(out, reference_dir, reference)
    problems += [f"after the last run: {p}" for p in other] + final
    identical = not final
    if identical:
        print(f"the resumed corpus: {len(reference['records'])} records and {len(reference['failures'])} failures, "
              f"byte for byte the uninterrupted run's; no temp file or orphan shard left")
    worker_kills = 0
    if args.worker_kills:
        worker_kills, found = kill_workers(s, root / "workers-killed", reference_dir, reference, rng)
        problems += found
        identical = identical and not found
    for p in problems:
        print(f"PROBLEM: {p}")
    counts = " ".join(f"{k}={v}" for k, v in kinds.items())
    print(f"RESULT backend={args.backend} kills={sum(kinds.values())} {counts}"
          + (f" worker_kills={worker_kills}" if args.worker_kills else "")
          + f" identical={'yes' if identical else 'no'} problems={len(problems)}")
    return 1 if problems else 0


def kill_workers(s: Soak, out: Path, reference_dir: Path, reference: dict[str, list[bytes]], rng: random.Random) -> tuple[int, list[str]]:
    """Run the campaign once more, to its end, while SIGKILLing one of its workers (as the OOM killer
    would) up to ``--worker-kills`` times, 5 to 15 s apart, at moments of three kinds in turn: a
    random worker; a worker running a kernel's oracles; and, as soon as its batch's retry reaches
    that kernel's oracles again, the worker running them (the same kernel lost twice in a row, which
    used to label it). The corpus must still be the uninterrupted run's. The number of workers
    killed, and the problems."""
    started = time.monotonic()
    proc = s.start(out)
    kills = turns = 0  # workers killed; kills tried (a turn of the third kind may find no victim)
    next_at = rng.uniform(3.0, 10.0)
    again = ""  # the kernel whose oracles the last kill landed in: the next kill waits for its retry
    killed: set[int] = set()  # a killed worker's home (and marker) stays until its pool notices
    try:
        while proc.poll() is None:
            now = time.monotonic() - started
            kind = ("random", "oracles", "again")[turns % 3]
            if turns < s.args.worker_kills and kind == "again" and now > next_at + RETRY_WAIT:
                turns += 1  # the retry never reached that kernel's oracles again in time: go on
                print(f"no worker kill at {now:5.1f} s: no retry reached the oracles of {again[:12]} within {RETRY_WAIT:.0f} s")
                next_at = now
                continue
            if turns < s.args.worker_kills and now >= next_at:
                if kind == "random":
                    victims = {pid: "" for pid in processes_of(s.tmpdir) if _is_worker(pid)}
                else:
                    victims = {pid: k for pid, k in _workers_in_oracles(s.tmpdir).items() if kind == "oracles" or k == again}
                victims = {pid: k for pid, k in victims.items() if pid not in killed}
                if victims:
                    pid = rng.choice(sorted(victims))
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills, turns = kills + 1, turns + 1
                        killed.add(pid)
                        again = victims[pid] if kind == "oracles" else ""
                        where = {"random": "at a random moment", "oracles": "in the oracles of kernel",
                                 "again": "in the oracles of the same kernel, in its batch's retry"}[kind]
                        print(f"worker kill {kills} at {now:5.1f} s: pid {pid}, {where} {victims[pid][:12]}".rstrip())
                    except ProcessLookupError:
                        pass
                    next_at = now + (0.0 if kind == "oracles" else rng.uniform(5.0, 15.0))
            if now > RUN_DEADLINE:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.0005 if kind != "random" and now >= next_at else 0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    problems = [] if proc.returncode == 0 else [f"the run with killed workers exited {proc.returncode}:\n{s.log_tail()}"]
    final, other = s.check_end(out, reference_dir, reference)
    problems += [f"after the run with killed workers: {p}" for p in other]
    print(f"the run with {kills} workers killed: {time.monotonic() - started:.1f} s, exit {proc.returncode}; "
          + ("byte for byte the uninterrupted run's" if not final else "NOT the uninterrupted run's"))
    return kills, problems + [f"with killed workers: {p}" for p in final]


def _workers_in_oracles(tmpdir: Path) -> dict[int, str]:
    """The workers running a kernel's oracles now: the kernel each one's marker names, by pid (the
    first line of its home's owner file)."""
    found = {}
    for home in tmpdir.glob(HOME_PREFIX + "*"):
        try:
            kernel = (home / CURRENT_KERNEL_MARKER).read_text().strip()
            pid = int((home / OWNER_FILE).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if kernel:
            found[pid] = kernel
    return found


def _is_worker(pid: int) -> bool:
    try:
        return b"fuzzer.worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind {', '.join(unknown) or '(none)'}; the kinds: {', '.join(KINDS)}")
    return kinds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(DATASET_ORACLES), default="cpu")
    parser.add_argument("--count", type=int, default=300, help="records the campaign makes")
    parser.add_argument("--round-size", type=int, default=25, help="small rounds: many commits to land a kill in")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--oracles", default=None, help="the campaign's --oracles (default: what make dataset runs)")
    parser.add_argument("--kills", type=int, default=15, help="kills before the command may run to its end")
    parser.add_argument("--worker-kills", type=int, default=0,
                        help="then run the campaign once more, SIGKILLing a worker this many times, 5-15 s apart")
    parser.add_argument("--kinds", type=_kinds, default=KINDS, help=f"the moments to kill at, in turn (default: {','.join(KINDS)})")
    parser.add_argument("--kill-seed", type=int, default=0, help="seed of the random moments")
    parser.add_argument("--reference", type=Path, default=None,
                        help="a finished uninterrupted campaign with these settings (else one is made first)")
    args = parser.parse_args(argv)
    if min(args.count, args.round_size, args.workers, args.kills) < 1 or args.worker_kills < 0:
        parser.error("--count, --round-size, --workers and --kills must be at least 1, --worker-kills at least 0")
    with tempfile.TemporaryDirectory(prefix="kill-soak-") as root:
        return soak(args, Path(root))


if __name__ == "__main__":
    sys.exit(main())
