"""Deterministic drawing: record ``index`` of ``seed`` is the same model in any process or batch.

Hypothesis is driven outside pytest through ``fuzz_one_input`` (its documented entry point for
external fuzzers) with a byte buffer derived from (seed, index) alone, never ``.example()``.
The minimal buffer Hypothesis returns is the draw's replayable identity, used by the reducer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings

from fuzzer.exprs import Plan
from fuzzer.grammar import GrammarSpec, kernel_models
from fuzzer.model import KernelModel

BUFFER_BYTES = 8192


def seed_buffer(seed: int, index: int, size: int = BUFFER_BYTES) -> bytes:
    """Expand (seed, index) into ``size`` bytes with SHAKE-256: stable across platforms and Pythons."""
    return hashlib.shake_256(f"warpfuzz:{seed}:{index}".encode()).digest(size)


@dataclass
class Drawn:
    model: KernelModel | None
    buffer: bytes  # the bytes Hypothesis consumed (replays the same model)
    error: str = ""  # a draw that raised (a grammar bug) is reported, not fatal


class Drawer:
    """Draws kernel models from a fixed set of grammars under one plan."""

    def __init__(self, grammars: list[GrammarSpec], plan: Plan):
        self.plan = plan
        self._result: list = []
        strategy = kernel_models(grammars, plan)

        @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), max_examples=1)
        @given(strategy)
        def capture(model):
            self._result.append(model)

        self._capture = capture

    def from_buffer(self, buffer: bytes) -> Drawn:
        self._result.clear()
        try:
            used = self._capture.hypothesis.fuzz_one_input(buffer)
        except Exception as exc:  # the grammar raised while drawing
            return Drawn(None, buffer, f"{type(exc).__name__}: {exc}")
        if not self._result:
            return Drawn(None, buffer, "draw rejected (buffer overrun or assumption failed)")
        return Drawn(self._result[-1], bytes(used or buffer))

    def draw(self, seed: int, index: int) -> Drawn:
        return self.from_buffer(seed_buffer(seed, index))
