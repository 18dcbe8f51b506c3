"""Geometry queries against resources the oracle builds: meshes, BVHs, hash grids and volumes.

Each resource is a ``wp.uint64`` id parameter (role "resource"). Face and point indices only
come from the queries themselves (a hit's face, an iterator's index), never from arithmetic, so
every lookup is in range; iterator loops end when the query does.
"""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, called_builtins, draw_count
from fuzzer.model import Block, KernelModel, Line

_MESH_POINT_QUERIES = [
    "wp.mesh_query_point({m}, {p}, 100.0)",
    "wp.mesh_query_point_no_sign({m}, {p}, 100.0)",
    "wp.mesh_query_furthest_point_no_sign({m}, {p}, 0.0)",
    "wp.mesh_query_point_sign_normal({m}, {p}, 100.0, 0.001)",
    "wp.mesh_query_point_sign_winding_number({m}, {p}, 100.0, 2.0, 0.5)",
    "wp.mesh_query_point_sign_parity({m}, {p}, 100.0, 3, 0.001)",
]
_MESH_FACE_USES = [
    "wp.mesh_eval_position({m}, {f}, 0.25, 0.25)",
    "wp.mesh_eval_velocity({m}, {f}, 0.25, 0.5)",
    "wp.mesh_eval_face_normal({m}, {f})",
    "wp.mesh_get_point({m}, wp.mesh_get_index({m}, {f} * 3 + 1))",
    "wp.mesh_get_velocity({m}, wp.mesh_get_index({m}, {f} * 3))",
]
_VOLUME_VALUES = [
    ("float32", "wp.volume_sample_f({v}, {p}, wp.Volume.LINEAR)"),
    ("float32", "wp.volume_sample({v}, {p}, wp.Volume.CLOSEST, dtype=float)"),
    ("float32", "wp.volume_lookup_f({v}, {i}, {i}, 1)"),
    ("float32", "wp.volume_lookup({v}, {i}, 0, {i}, dtype=float)"),
    ("vec3f", "wp.volume_world_to_index({v}, {p})"),
    ("vec3f", "wp.volume_index_to_world({v}, {p})"),
    ("vec3f", "wp.volume_world_to_index_dir({v}, {p})"),
    ("vec3f", "wp.volume_index_to_world_dir({v}, {p})"),
    ("vec3f", "wp.volume_sample_v({v}, {p}, wp.Volume.LINEAR)"),
    ("vec3f", "wp.volume_lookup_v({v}, {i}, 0, 0)"),
    ("int32", "wp.volume_sample_i({v}, {p})"),
    ("int32", "wp.volume_lookup_i({v}, 0, {i}, 0)"),
]


class Geometry(Grammar):
    name = "geometry"
    version = "1"
    description = "mesh, BVH, hash-grid and volume queries through wp.uint64 resource ids"
    kernel_types = {"mesh_query": 1.0, "bvh_query": 1.0, "hash_grid_query": 1.0, "volume_query": 1.0}
    productions = ()

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=1)
        p = k.input_array("vec3f")
        acc = k.local("float32", "float(0.0)", "acc")
        getattr(self, "_" + kernel_type)(k, p, acc)
        k.statements(["float32", "vec3f"], max_stmts=2)
        out = k.output_array("float32")
        k.emit(Line(f"{out}[tid] = {acc} + {k.e.expr('float32', k.scope, 1)}"))
        k.total = False
        return k.model()

    def _accumulate(self, k, acc, value_vec3):
        k.emit(Line(f"{acc} += wp.length({value_vec3})"))

    def _mesh_query(self, k, p, acc):
        m = k.resource("mesh")
        for _ in range(draw_count(k.draw, 1, 3)):
            form = draw_count(k.draw, 0, 3)
            q = k.scope.namer.fresh("q")
            if form <= 1:
                query = k.e.choice(_MESH_POINT_QUERIES).format(m=m, p=p)
                use = k.e.choice(_MESH_FACE_USES).format(m=m, f=f"{q}.face")
                k.emit(Line(f"{q} = {query}"), Block(f"if {q}.result", [Line(f"{acc} += {q}.sign + wp.length({use})")]))
                k.use(*called_builtins(query + use))
            elif form == 2:
                face = k.scope.namer.fresh("face")
                use = k.e.choice(_MESH_FACE_USES).format(m=m, f=face)
                lo = k.e.choice([f"{p} - wp.vec3(1.0)", f"wp.min({p}, wp.vec3(0.0))"])
                query = k.e.choice([f"wp.mesh_query_aabb({m}, {lo}, {p} + wp.vec3(1.0))", f"wp.mesh_query_sphere({m}, {p}, 1.0)"])
                step = k.e.choice(["wp.mesh_query_aabb_next", "wp.mesh_query_next"])
                k.emit(Line(f"{q} = {query}"), Line(f"{face} = int(0)"), Block(f"while {step}({q}, {face})", [Line(f"{acc} += wp.length({use})")]))
                k.use(*called_builtins(query + use), step)
            else:
                ray = k.e.choice([
                    f"wp.mesh_query_ray({m}, {p}, wp.vec3(0.0, 0.0, 1.0), 100.0)",
                ])
                k.emit(Line(f"{q} = {ray}"), Block(f"if {q}.result", [Line(f"{acc} += {q}.t + {q}.u + {q}.sign + wp.length({q}.normal)")]))
                k.emit(Line(f"{acc} += float(wp.mesh_query_ray_count_intersections({m}, {p}, wp.vec3(1.0, 0.0, 0.0), -1))"))
                k.emit(Block(f"if wp.mesh_query_ray_anyhit({m}, {p}, wp.vec3(0.0, 1.0, 0.0), 10.0)", [Line(f"{acc} += 1.0")]))
                k.use("wp.mesh_query_ray", "wp.mesh_query_ray_count_intersections", "wp.mesh_query_ray_anyhit")
        k.emit(Line(f"{acc} += float(wp.mesh_get_group_root({m}, 0))"))
        k.emit(Block(f"if wp.mesh_get_bvh({m}) != wp.uint64(0)", [Line(f"{acc} += 1.0")]))
        k.use("wp.mesh_get_group_root", "wp.mesh_get_bvh")

    def _bvh_query(self, k, p, acc):
        b = k.resource("bvh")
        for _ in range(draw_count(k.draw, 1, 3)):
            q, idx = k.scope.namer.fresh("q"), k.scope.namer.fresh("hit")
            query = k.e.choice([
                f"wp.bvh_query_aabb({b}, {p} - wp.vec3(1.0), {p} + wp.vec3(1.0))",
                f"wp.bvh_query_ray({b}, {p}, wp.vec3(0.0, 0.0, 1.0))",
                f"wp.bvh_query_sphere({b}, {p}, 1.0)",
                f"wp.bvh_query_capsule({b}, {p}, wp.vec3(1.0, 0.0, 0.0), 0.5)",
            ])
            k.emit(Line(f"{q} = {query}"), Line(f"{idx} = int(0)"), Block(f"while wp.bvh_query_next({q}, {idx}, 1000.0)", [Line(f"{acc} += float({idx})")]))
            k.use(*called_builtins(query), "wp.bvh_query_next")
        k.emit(Line(f"{acc} += float(wp.bvh_get_group_root({b}, 0))"))
        k.use("wp.bvh_get_group_root")

    def _hash_grid_query(self, k, p, acc):
        g = k.resource("hash_grid")
        q, idx = k.scope.namer.fresh("q"), k.scope.namer.fresh("nb")
        body = [Line(f"{acc} += float({idx})")]
        body += k.statements(["float32", "vec3f"], max_stmts=2, emit=False)
        k.emit(Line(f"{q} = wp.hash_grid_query({g}, {p}, {k.e.choice(['0.5', '1.0', '2.0'])})"), Line(f"{idx} = int(0)"),
               Block(f"while wp.hash_grid_query_next({q}, {idx})", body))
        # the oracle builds the grid from launch_dim points, so tid is a valid point index
        k.emit(Line(f"{acc} += float(wp.hash_grid_point_id({g}, tid))"))
        k.use("wp.hash_grid_query", "wp.hash_grid_query_next", "wp.hash_grid_point_id")

    def _volume_query(self, k, p, acc):
        v = k.resource("volume")
        i = k.local("int32", "tid % 8", "c")
        for _ in range(draw_count(k.draw, 2, 5)):
            ty, template = k.e.choice(_VOLUME_VALUES)
            value = template.format(v=v, p=p, i=i)
            k.use(*called_builtins(value))
            k.emit(Line(f"{acc} += " + ({"float32": value, "int32": f"float({value})", "vec3f": f"wp.length({value})"}[ty])))
        if k.e.boolean():
            grad = k.local("vec3f", "wp.vec3(0.0)", "grad")
            k.emit(Line(f"{acc} += wp.volume_sample_grad_f({v}, {p}, wp.Volume.LINEAR, {grad}) + {grad}[0]"))
            k.use("wp.volume_sample_grad_f")
        k.emit(Line(f"{acc} += float(wp.volume_voxel_count({v}))"))
        k.use("wp.volume_voxel_count")


GRAMMAR = Geometry()
