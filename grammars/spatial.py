"""Quaternion, transform, spatial and linear-algebra math: the builtins that take or return
rotations, rigid transforms, 6-D spatial vectors and matrix decompositions."""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, mixed_kernel
from fuzzer.model import KernelModel

_QUAT_SPECIALS = [
    ("quatf", "wp.quat_identity(dtype=float)"),
    ("transformf", "wp.transform_identity(dtype=float)"),
    ("mat44f", "wp.transform_compose({vec3f}, {quatf}, {vec3f})"),
    (("vec3f", "quatf", "vec3f"), "wp.transform_decompose(wp.transform_to_matrix({transformf}))"),
    (None, "wp.transform_set_rotation({transformf:var}, wp.normalize({quatf}))"),
    (None, "wp.transform_set_translation({transformf:var}, {vec3f})"),
    (None, "wp.quat_to_axis_angle(wp.normalize({quatf}), {vec3f:var}, {float32:var})"),
    ("transformf", "wp.transform_multiply({transformf}, wp.transform_inverse({transformf}))"),
    ("vec3f", "wp.transform_point({transformf}, {vec3f})"),
    ("vec3f", "wp.quat_rotate(wp.normalize({quatf}), {vec3f})"),
]
_SPATIAL_SPECIALS = [
    (("mat33f", "vec3f", "mat33f"), "wp.svd3({mat33f})"),
    (("mat33f", "mat33f"), "wp.qr3({mat33f})"),
    (("mat33f", "vec3f"), "wp.eig3({mat33f})"),
    (("mat22f", "vec2f", "mat22f"), "wp.svd2({mat22f})"),
    ("spatial_matrixf", "wp.spatial_adjoint({mat33f}, {mat33f})"),
    ("mat33f", "wp.identity(n=3, dtype=float)"),
    ("mat33f", "wp.matrix_from_rows({vec3f}, {vec3f}, {vec3f})"),
    ("mat33f", "wp.matrix_from_cols({vec3f}, {vec3f}, {vec3f})"),
    ("vec3f", "wp.vector({float32}, {float32}, {float32})"),
    ("mat22f", "wp.matrix({float32}, {float32}, {float32}, {float32}, shape=(2, 2))"),
    ("vec3f", "wp.smooth_normalize({vec3f}, 0.01)"),
    ("float32", "wp.norm_huber({vec3f}, 1.0)"),
    ("float32", "wp.norm_pseudo_huber({vec3f}, 1.0)"),
    ("spatial_vectorf", "wp.spatial_vector({vec3f}, {vec3f})"),
]


class Spatial(Grammar):
    name = "spatial"
    version = "1"
    description = "quaternions, transforms, spatial vectors/matrices and matrix decompositions"
    kernel_types = {"quat_transform": 1.0, "spatial_algebra": 1.0}
    productions = ("if", "for", "ifexp", "construct")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        if kernel_type == "quat_transform":
            types = ["quatf", "transformf", "vec3f", "float32", "mat33f"]
            return mixed_kernel(k, types, _QUAT_SPECIALS, ["vec3f", "quatf"], [k.e.choice(["vec3f", "quatf", "float32"])])
        types = ["spatial_vectorf", "spatial_matrixf", "mat33f", "vec3f", "float32"]
        return mixed_kernel(k, types, _SPATIAL_SPECIALS, ["vec3f", "mat33f"], [k.e.choice(["spatial_vectorf", "vec3f", "float32"])])


GRAMMAR = Spatial()
