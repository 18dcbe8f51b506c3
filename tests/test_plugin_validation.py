"""Malformed grammar plugins fail on load (or on their first draw) with one line naming the field."""

from __future__ import annotations

import pytest

from fuzzer.draw import Drawer
from fuzzer.errors import PluginError
from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar, canonicalize
from grammars.elementwise import GRAMMAR as ELEMENTWISE


class _Plugin:
    name = "toy"
    kernel_types = {"scalar_math": 1.0}

    def kernel(self, draw, kernel_type, plan):
        return ELEMENTWISE.kernel(draw, "scalar_math", plan)


def _broken(**changes):
    return type("Broken", (_Plugin,), changes)()


@pytest.mark.parametrize(
    "plugin, field",
    [
        (_broken(name=None), "name"),
        (_broken(name="Not An Identifier"), "name"),
        (_broken(kernel_types=None), "kernel_types"),
        (_broken(kernel_types={}), "kernel_types"),
        (_broken(kernel_types={"scalar_math": -1.0}), "kernel_types"),
        (_broken(kernel_types={"scalar_math": "heavy"}), "kernel_types"),
        (_broken(kernel_types={"scalar_math": 0.0}), "kernel_types"),
        (_broken(kernel=None), "kernel"),
        (_broken(productions="if"), "productions"),
    ],
)
def test_malformed_plugin_is_one_line_error_naming_plugin_and_field(plugin, field):
    with pytest.raises(PluginError) as info:
        canonicalize(plugin, "toy")
    message = str(info.value)
    assert "\n" not in message
    assert "'toy'" in message and repr(field) in message


def test_kernel_of_an_undeclared_type_is_reported_on_draw():
    class Liar(Grammar):
        name = "liar"
        kernel_types = {"scalar_math": 1.0}

        def kernel(self, draw, kernel_type, plan):
            model = ELEMENTWISE.kernel(draw, kernel_type, plan)
            model.grammar, model.kernel_type = "liar", "made_up"
            return model

    drawn = Drawer([canonicalize(Liar(), "liar")], Plan()).draw(7, 0)
    assert drawn.model is None
    assert "PluginError" in drawn.error and "'liar'" in drawn.error and "'kernel'" in drawn.error
    assert "made_up" in drawn.error


def test_well_formed_plugin_canonicalizes():
    spec = canonicalize(_Plugin(), "toy")
    assert spec.name == "toy" and spec.kernel_types == (("scalar_math", 1.0),)
