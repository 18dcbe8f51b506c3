"""Findings: a corpus's failures deduplicated by signature, each minimized into a reproducer.

``collect_findings`` groups the ``failures`` stream by signature (label, exception type,
normalized message, innermost Warp function) and sorts each group into one of three kinds:

- ``warp``: a Warp bug or a behaviour worth reporting (internal errors, native compile errors,
  crashes, hangs, wrong results);
- ``generator``: Warp rejected a generated kernel on purpose (``codegen_error``): the grammar
  drew an invalid program, a bug in the generator, not in Warp;
- ``warpfuzz``: the harness or a plugin raised while handling the kernel (a worker job ``error``).

``reduce_findings`` writes ``DIR/findings/<key>/`` for each ``warp`` and ``generator`` finding:
``original.py`` (its first example), ``repro.py`` (the example minimized with ``reduce_source``,
as a standalone reproducer: plain ``python repro.py`` exits 1 with one line) and ``info.json``
(with ``calls``, the Warp functions the reduced kernel still calls). A wrong result's or a wrong
gradient's signature says what differed, not why, so kernels of one signature can have different
causes: up to ``VALUE_EXAMPLES`` of its examples (by default) are reduced, each further one into
``DIR/findings/<key>/examples/<n>-<kernel>/``, and the listing groups a finding's reduced examples
by their calls.
Before reducing, the original must reproduce as a plain-Warp reproducer in a fresh process. One
that does not (a fault that lives in a backend plugin, not in Warp, or a flaky one) is kept with
``"reproducible": false`` and the reproducer's verdict, and gets no ``repro.py``. ``info.json``
is written last, so a folder that has it is done: reduction resumes where it stopped and never
redoes a finding (delete its folder to redo it).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import re
import signal
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fuzzer import outcomes
from fuzzer.errors import WarpfuzzError
from fuzzer.interrupts import Terminated
from fuzzer.reduce import reduce_source
from fuzzer.repro import STEP_FOR_LABEL, make_predicate, run_repro, write_repro
from fuzzer.shards import atomic_write, iter_records

FINDINGS_DIR = "findings"
KINDS = ("warp", "generator", "warpfuzz")
REDUCIBLE_KINDS = ("warp", "generator")
_WORKER_JOB_ERROR = "error"  # the exc_type the campaign gives a kernel whose worker job raised
# labels whose signature names what differed, not the cause: several examples of each are reduced
VALUE_LABELS = frozenset({outcomes.GRAD_MISMATCH, outcomes.MISMATCH, outcomes.NAN_INF})
VALUE_EXAMPLES = 3
MAX_EXAMPLES = 20  # examples kept per signature while reading the failures (memory stays flat)
EXAMPLES_DIR = "examples"


@dataclass
class Finding:
    signature: str
    kind: str
    label: str
    first: dict  # the first failure record with this signature, in corpus order
    count: int = 0
    examples: list[dict] = field(default_factory=list)  # the first MAX_EXAMPLES, ``first`` included
    kernel_types: set[str] = field(default_factory=set)
    grammars: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        """The folder name under ``findings/``: a short hash of the signature."""
        return hashlib.sha256(self.signature.encode()).hexdigest()[:12]

    def summary(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "label": self.label,
            "signature": self.signature,
            "count": self.count,
            "kernel_types": sorted(self.kernel_types),
            "grammars": sorted(self.grammars),
            "example": self.first["kernel_name"],
            "diagnostic": _last_line(self.first.get("diagnostic", "")),
        }


def _last_line(text: str) -> str:
    """A diagnostic's last non-empty line: the reason, after any traceback."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def finding_signature(record: dict) -> str:
    """The record's signature, with crashes and hangs keyed by the signal or the timeout alone (as a
    reproducer reports them): the rest of their diagnostic is worker log noise, not the bug. A
    record without one (extracted kernels) gets it from its label, exception and diagnostic, a
    native compile error from the compiler's first error line."""
    label = record["label"]
    if label == outcomes.CRASH:
        name = record.get("exc_type", "")
        return outcomes.signature(outcomes.CRASH, name, name, "")
    if label == outcomes.TIMEOUT:
        return outcomes.signature(*outcomes.classify_exit(None, timed_out=True), "")
    if record.get("signature"):
        return record["signature"]
    message = record.get("diagnostic", "")
    if label == outcomes.NATIVE_COMPILE_ERROR:
        message = outcomes.first_native_error(message) or message[:300]
    return outcomes.signature(label, record.get("exc_type", ""), message, record.get("where", ""))


def finding_kind(record: dict) -> str:
    if record.get("exc_type") == _WORKER_JOB_ERROR and record["label"] == outcomes.WARP_INTERNAL_ERROR:
        return "warpfuzz"
    generated = record.get("grammar") not in (None, "", "extracted")
    if record["label"] == outcomes.CODEGEN_ERROR and generated:
        return "generator"
    return "warp"


def collect_findings(corpus_dir) -> list[Finding]:
    """The corpus's failures grouped by signature, in order of first appearance (kernels a filter
    set aside, ``oversized``, are no finding)."""
    findings: dict[str, Finding] = {}
    for record in iter_records(Path(corpus_dir), "failures"):
        if record["label"] == outcomes.OVERSIZED:
            continue
        sig = finding_signature(record)
        finding = findings.get(sig)
        if finding is None:
            finding = findings[sig] = Finding(sig, finding_kind(record), record["label"], record)
        finding.count += 1
        if len(finding.examples) < MAX_EXAMPLES:
            finding.examples.append(record)
        finding.kernel_types.add(record.get("kernel_type") or "")
        finding.grammars.add(record.get("grammar") or "")
    for finding in findings.values():
        finding.kernel_types.discard("")
        finding.grammars.discard("")
    return list(findings.values())


# ---------------------------------------------------------------------------------------------
# reduction


def reduce_findings(corpus_dir, *, workers: int = 2, max_steps: int = 100, timeout_s: float = 60.0,
                    kinds=REDUCIBLE_KINDS, examples: int | None = None) -> list[dict]:
    """Reduce every finding of ``kinds`` that has no ``info.json`` yet, ``workers`` at a time;
    returns each finding's info (those done earlier included), in ``collect_findings`` order.

    ``examples``: how many examples of a wrong result or gradient (``VALUE_LABELS``) are reduced,
    its first one included (default ``VALUE_EXAMPLES``); other findings reduce their first alone.

    ``max_steps`` bounds the reproducer runs per finding (each is a fresh process, so crashes and
    hangs reduce too); ``timeout_s`` is each run's limit, and how long a hang must last.
    """
    unknown = set(kinds) - set(REDUCIBLE_KINDS)
    if unknown:
        raise WarpfuzzError(f"cannot reduce findings of kind {sorted(unknown)}: choose from {', '.join(REDUCIBLE_KINDS)}")
    if examples is not None and examples < 1:
        raise WarpfuzzError(f"--examples must be at least 1, not {examples}")
    root = Path(corpus_dir) / FINDINGS_DIR
    todo = [f for f in collect_findings(corpus_dir) if f.kind in kinds]
    # every finding's first example, then the further examples of the wrong results and gradients
    jobs = [(f, root / f.key) for f in todo]
    for f in todo:
        wanted = (examples or VALUE_EXAMPLES) if f.label in VALUE_LABELS else 1
        jobs += [(dataclasses.replace(f, first=example), example_folder(root / f.key, n, example))
                 for n, example in enumerate(f.examples[1:wanted], 1)]
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        return list(pool.map(lambda job: _reduce_one(*job, max_steps, timeout_s, stop), jobs))[: len(todo)]
    finally:
        stop.set()  # on Ctrl-C or SIGTERM: the reductions in flight stop after their current run
        pool.shutdown(wait=True, cancel_futures=True)  # and the waiting ones never start


def example_folder(folder: Path, n: int, record: dict) -> Path:
    """Where a finding's ``n``-th further example is reduced (its first is ``folder`` itself)."""
    return folder / EXAMPLES_DIR / f"{n:02d}-{re.sub(r'[^A-Za-z0-9_]', '_', record['kernel_name'])}"


def warp_calls(source: str) -> list[str]:
    """The Warp functions a source calls (``wp.<name>(...)``), sorted, each once; the calls in
    parameter annotations (``wp.array(dtype=float)``) are types, not calls, and are left out."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    annotations = {id(n) for args in ast.walk(tree) if isinstance(args, ast.arguments) for n in ast.walk(args)}
    return sorted({f"wp.{node.func.attr}" for node in ast.walk(tree) if isinstance(node, ast.Call) and id(node) not in annotations
                   and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == "wp"})


def _interrupted(status: int, stop: threading.Event) -> None:
    """Raise if the command is being stopped, or the reproducer run just made was itself stopped by
    a signal (a terminal's Ctrl-C reaches every process of the command's group, the reproducers
    too, and the run it cut short is no verdict). Either way nothing is written: judged from such a
    run, a finding was recorded as not reproducible, and a later run read that back as done."""
    if status in (-signal.SIGTERM, 128 + signal.SIGTERM):
        raise Terminated()
    if stop.is_set() or status in (-signal.SIGINT, 128 + signal.SIGINT):
        raise KeyboardInterrupt()


def _reduce_one(finding: Finding, folder: Path, max_steps: int, timeout_s: float, stop: threading.Event) -> dict:
    info_path = folder / "info.json"
    if info_path.exists():
        return json.loads(info_path.read_text(encoding="utf-8"))
    record = finding.first
    source = record["python_source"]
    atomic_write(folder / "original.py", source.encode())
    how = _repro_settings(record, timeout_s)
    info = {
        **finding.summary(),
        "diagnostic": record.get("diagnostic", ""),
        "backend": record.get("backend", ""),
        "provenance": record.get("provenance", {}),
        "step": how["step"],
        "target": how["target"],
        "original": _size(source),
    }
    _interrupted(0, stop)
    status, verdict = _run_candidate(source, record, how)
    _interrupted(status, stop)
    prefix = f"reproduced {finding.label}: "
    if status != 1 or not verdict.startswith(prefix):
        info.update(reproducible=False, verdict=verdict)
    else:
        repro_signature = verdict[len(prefix):]
        still_fails = make_predicate(repro_signature, finding.label, **how, on_run=lambda status: _interrupted(status, stop))
        reduced = reduce_source(source, still_fails, max_steps=max_steps)
        _interrupted(0, stop)
        tmp = folder / ".repro.py.tmp"
        write_repro(reduced, label=finding.label, path=str(tmp), **how)
        os.replace(tmp, folder / "repro.py")
        info.update(reproducible=True, repro_signature=repro_signature, reduced=_size(reduced), verdict=verdict,
                    calls=warp_calls(reduced))
    atomic_write(info_path, (json.dumps(info, indent=1, sort_keys=True) + "\n").encode())
    return info


def _repro_settings(record: dict, timeout_s: float) -> dict:
    """How a reproducer replays this record: the kernel, its inputs, the failing step, the build target."""
    label = record["label"]
    step = STEP_FOR_LABEL[label]
    if label == outcomes.MISMATCH and record.get("diagnostic", "").startswith("cpu vs cuda"):
        step = "cuda"
    target = "cuda" if label == outcomes.NATIVE_COMPILE_ERROR and record.get("backend") == "cuda" else "cpu"
    return {"kernel_name": _kernel_def_name(record), "hints": record.get("hints"), "seed": record.get("provenance", {}).get("seed", 0),
            "step": step, "target": target, "timeout_s": timeout_s}


def _kernel_def_name(record: dict) -> str:
    """The name the reproducer looks the kernel up by: an instance of a generic kernel is recorded
    under its mangled name (the definition's name and an 8-hex hash), which the source never defines."""
    name = record["kernel_name"]
    try:
        defined = {node.name for node in ast.walk(ast.parse(record.get("python_source", ""))) if isinstance(node, ast.FunctionDef)}
    except SyntaxError:
        return name
    base = re.sub(r"_[0-9a-f]{8}$", "", name)
    return base if name not in defined and base in defined else name


def _run_candidate(source: str, record: dict, how: dict) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="warpfuzz-finding-") as work:
        path = write_repro(source, label=record["label"], path=os.path.join(work, "repro.py"), **how)
        return run_repro(path, timeout_s=how["timeout_s"] + 60)


def _size(source: str) -> dict:
    return {"bytes": len(source.encode()), "lines": len(source.splitlines())}


# ---------------------------------------------------------------------------------------------
# command


def findings_command(corpus_dir, as_json: bool) -> int:
    """Print the corpus's findings: signature, count, kernel types and reproducer, by kind."""
    root = Path(corpus_dir)
    findings = collect_findings(root)
    rows = []
    for finding in findings:
        row = finding.summary()
        folder = root / FINDINGS_DIR / finding.key
        info = _read_info(folder)
        row["reproducible"] = info.get("reproducible") if info else None
        row["repro"] = str(folder / "repro.py") if (folder / "repro.py").exists() else None
        row["original"] = str(folder / "original.py") if (folder / "original.py").exists() else None
        row["reduced_examples"] = _reduced_examples(folder)
        rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=1, sort_keys=True))
        return 0
    titles = {"warp": "Warp findings", "generator": "generator bugs (codegen_error on generated kernels)",
              "warpfuzz": "warpfuzz errors (a worker job or plugin raised)"}
    for kind in KINDS:
        group = [r for r in rows if r["kind"] == kind]
        print(f"{titles[kind]}: {len(group)} signatures, {sum(r['count'] for r in group)} kernels")
        for r in group:
            print(f"  {r['key']}  {r['count']:>5}x  {r['signature'][:160]}")
            print(f"      kernel types: {', '.join(r['kernel_types']) or '-'}; example {r['example']}")
            if r["repro"]:
                print(f"      repro: {r['repro']}")
            elif r["reproducible"] is False:
                print(f"      not reproducible with plain Warp (original: {r['original']})")
            groups = _by_calls(r["reduced_examples"])
            if len(r["reduced_examples"]) > 1:
                print(f"      {len(r['reduced_examples'])} examples reduced, {len(groups)} sets of calls left:")
                for calls, members in groups.items():
                    print(f"        {calls or '(no Warp call)'}: {', '.join(m['example'] for m in members)}; repro {members[0]['repro']}")
    return 0


def _reduced_examples(folder: Path) -> list[dict]:
    """A finding's reproducible reduced examples, its first one first: example, calls, repro."""
    out = []
    for where in [folder] + sorted(p for p in (folder / EXAMPLES_DIR).glob("*") if p.is_dir()):
        info = _read_info(where)
        if info and info.get("reproducible") and (where / "repro.py").exists():
            calls = info["calls"] if "calls" in info else _repro_calls(where / "repro.py")  # reduced before ``calls``
            out.append({"example": info.get("example", ""), "calls": calls, "repro": str(where / "repro.py")})
    return out


def _repro_calls(repro: Path) -> list[str]:
    """``warp_calls`` of the kernel source a reproducer holds (its ``KERNEL_SOURCE = ...`` line)."""
    prefix = "KERNEL_SOURCE = "
    try:
        line = next(line for line in repro.read_text(encoding="utf-8").splitlines() if line.startswith(prefix))
        return warp_calls(ast.literal_eval(line[len(prefix):]))
    except (OSError, StopIteration, ValueError, SyntaxError):
        return []


def _by_calls(examples: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for e in examples:
        groups.setdefault(", ".join(e["calls"]), []).append(e)
    return groups


def _read_info(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

