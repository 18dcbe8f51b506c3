"""The coverage tracker: what the corpus holds so far, and the next round's steering plan.

Counts per kernel type, per public builtin (as ``wp.<name>`` in the source, or through the
operator that maps to it), per grammar production and per IR feature (the ``wp::`` calls in the
generated code). Between rounds, :func:`plan_for_round` shifts weights toward the
under-represented entries and draws a swarm configuration (a random subset of productions
switched off for the round, as in Csmith's swarm testing) from (seed, round) alone.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter

from fuzzer.exprs import Plan
from fuzzer.features import builtins_used

_IR_CALL = re.compile(r"\bwp::([a-z_][a-z0-9_]*)\(")
SWARM_OFF_PROBABILITY = 0.25
MAX_BOOST = 4.0


class Coverage:
    """Counters that survive a resume: serialized into the manifest's state on every commit."""

    def __init__(self, data: dict | None = None):
        data = data or {}
        self.kernel_types = Counter(data.get("kernel_types", {}))
        self.grammars = Counter(data.get("grammars", {}))
        self.builtins = Counter(data.get("builtins", {}))
        self.productions = Counter(data.get("productions", {}))
        self.ir_features = Counter(data.get("ir_features", {}))

    def add(self, record: dict, productions: list[str]):
        self.kernel_types[record["kernel_type"]] += 1
        self.grammars[record["grammar"]] += 1
        self.builtins.update(builtins_used(record["features"]))
        self.productions.update(productions)
        self.ir_features.update(set(_IR_CALL.findall(record["ir"]["forward"])))

    def to_json(self) -> dict:
        return {
            name: dict(sorted(getattr(self, name).items()))
            for name in ("kernel_types", "grammars", "builtins", "productions", "ir_features")
        }


def _boost(count: int, mean: float) -> float:
    if count == 0:
        return MAX_BOOST
    return min(MAX_BOOST, max(1.0 / MAX_BOOST, mean / count))


def steering_tables(grammar_specs) -> tuple[list[str], list[str]]:
    """The kernel types and the productions that a campaign over ``grammar_specs`` steers."""
    kernel_types = sorted({kt for g in grammar_specs for kt, _ in g.kernel_types})
    productions = sorted({p for g in grammar_specs for p in g.productions})
    return kernel_types, productions


def plan_for_round(coverage: Coverage, kernel_types: list[str], builtins: list[str], productions: list[str],
                   seed: int, round_index: int, *, steer: bool = True, swarm: bool = True) -> Plan:
    """The plan for one round: a pure function of the committed coverage and (seed, round)."""
    kt_weights, bi_weights = {}, {}
    if steer and sum(coverage.kernel_types.values()):
        mean = sum(coverage.kernel_types[k] for k in kernel_types) / max(1, len(kernel_types))
        kt_weights = {k: round(_boost(coverage.kernel_types[k], mean), 4) for k in kernel_types}
        mean_b = sum(coverage.builtins[b] for b in builtins) / max(1, len(builtins))
        bi_weights = {b: round(_boost(coverage.builtins[b], mean_b), 4) for b in builtins}
    disabled = frozenset()
    if swarm and productions:
        rng = random.Random(int.from_bytes(hashlib.sha256(f"swarm:{seed}:{round_index}".encode()).digest()[:8], "big"))
        disabled = frozenset(p for p in sorted(productions) if rng.random() < SWARM_OFF_PROBABILITY)
    return Plan(kt_weights, bi_weights, disabled)


def normalized_entropy(counts: dict) -> float:
    total = sum(counts.values())
    if total == 0 or len(counts) < 2:
        return 0.0
    h = -sum(c / total * math.log(c / total) for c in counts.values() if c)
    return h / math.log(len(counts))


def coverage_report(out) -> dict:
    """What ``warpfuzz coverage`` prints, computed from the committed records and counters."""
    from fuzzer.builtins import public_builtins
    from fuzzer.shards import iter_records, read_manifest
    from fuzzer.stats import _rates

    public = public_builtins()
    kernel_types: Counter = Counter()
    used: set[str] = set()
    for rec in iter_records(out):
        kernel_types[rec["kernel_type"]] += 1
        used |= builtins_used(rec["features"])
    covered = sorted(set(public) & used)
    missing: dict[str, list[str]] = {}
    for name, group in sorted(public.items()):
        if name not in used:
            missing.setdefault(group, []).append(name)
    rates = _rates(read_manifest(out).get("state", {}).get("counters", {}))
    return {
        "kernel_types": dict(sorted(kernel_types.items())),
        "entropy": round(normalized_entropy(kernel_types), 4),
        "builtins_covered": len(covered),
        "builtins_total": len(public),
        "builtins_missing": sorted(n for names in missing.values() for n in names),
        "builtins_missing_by_group": dict(sorted(missing.items())),
        "validity": rates["validity"],
        "duplicate_rate": rates["duplicate_rate"],
        "generated": rates["generated"],
    }
