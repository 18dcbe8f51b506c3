"""Render a kernel model into Python source through the Jinja2 templates shipped in ``templates``."""

from __future__ import annotations

from functools import cache

import jinja2

from fuzzer.model import KernelModel


def _py_literal(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_literal(k)}: {_py_literal(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("templates", ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["tojson_py"] = _py_literal
    return env


def render(model: KernelModel, template: str = "kernel_module.py.j2") -> str:
    text = environment().get_template(template).render(model=model)
    return text.rstrip() + "\n"
