"""Random numbers and noise: a per-thread ``wp.rand_init`` state from a seed parameter feeds
the sampling builtins, Perlin/simplex noise and CDF sampling."""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel, Param

_SPECIALS = [
    ("float32", "wp.randf({uint32:state})"),
    ("float32", "wp.randn({uint32:state})"),
    ("int32", "wp.sample_cdf({uint32:state}, cdf)"),
    ("int32", "wp.lower_bound(cdf, {float32})"),
    ("vec3f", "wp.sample_unit_sphere({uint32:state})"),
    ("vec2f", "wp.sample_unit_disk({uint32:state})"),
    ("float32", "wp.noise({uint32:state}, {vec3f})"),
    ("float32", "wp.pnoise({uint32:state}, {vec2f}, 4, 8)"),
    ("vec3f", "wp.curlnoise({uint32:state}, {vec3f})"),
    ("uint32", "wp.poisson({uint32:state}, 3.0)"),
]


class Random(Grammar):
    name = "random"
    version = "1"
    description = "wp.rand_init states, samplers, noise and CDF sampling"
    kernel_types = {"random_noise": 1.0}
    productions = ("if", "for")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        k.params.append(Param("seed", "int", "seed", "int32", 0))
        k.scope.add("seed", "int32", readonly=True)
        state = k.local("uint32", "wp.rand_init(seed, tid)", "state")
        k.use("wp.rand_init")
        k.input_array("vec3f")
        if k.e.boolean():
            k.params.append(Param("cdf", "wp.array(dtype=float)", "in", "float32", 1))
            specials = _SPECIALS
        else:
            specials = [s for s in _SPECIALS if "cdf" not in s[1]]
        for _ in range(draw_count(draw, 2, 4)):
            returns, template = k.e.choice(specials)
            k.call(returns, template.replace("{uint32:state}", state))
        k.statements(["float32", "vec3f", "uint32"], max_stmts=3)
        out = k.output_array(k.e.choice(["float32", "vec3f"]))
        k.emit(k.store(out, k.params[-1].dtype))
        k.total = False  # randn and noise are finite, but poisson/cdf are not total in general
        return k.model()


GRAMMAR = Random()
