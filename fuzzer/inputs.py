"""Launch inputs synthesized from a kernel's signature: small, seeded, finite, moderate.

The generator's hints (each parameter's role and the launch shape) are used when present; for
kernels from elsewhere the roles are read from the kernel's AST (an array that is subscript-assigned,
aug-assigned or passed first to ``wp.atomic_*`` is an output) and a small launch shape is chosen
from the arity of ``wp.tid()``.

Host values are drawn once from ``numpy.random.default_rng(seed)`` in argument order, so the same
kernel, hints and seed give the same bytes in any process; ``LaunchInputs.materialize`` turns them
into Warp arguments for a device as often as an oracle needs fresh copies.

This module imports only numpy, Warp and the standard library: ``fuzzer.repro`` copies it into
standalone reproducers.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from dataclasses import dataclass, field

import numpy as np

_DEFAULT_LAUNCH = {1: (16,), 2: (4, 4), 3: (4, 4, 2), 4: (2, 2, 2, 2)}
_FLOAT_RANGE = 2.0  # moderate magnitudes: total math stays far from overflow
_INT_HIGH = 8  # ints stay small and non-negative: safe as loop counts and indices
_RESOURCE_PREFIXES = {"mesh_": "mesh", "bvh_": "bvh", "hash_grid_": "hash_grid", "volume_": "volume"}


class UnsupportedKernel(Exception):
    """The kernel has an argument input synthesis cannot build (the reason names it)."""


@dataclass(frozen=True)
class ParamHint:
    name: str
    role: str  # "in", "out", "inout", "scalar", "seed", "resource"
    dtype: str = "float32"
    ndim: int = 0
    resource: str = ""


@dataclass(frozen=True)
class Hints:
    params: tuple[ParamHint, ...] = ()
    launch_dim: tuple[int, ...] | None = None
    math_total: bool = False

    @classmethod
    def of(cls, obj) -> "Hints":
        """Hints from None, a ``Hints``, its ``to_dict()`` form, or a generator ``KernelModel``."""
        if obj is None:
            return cls()
        if isinstance(obj, cls):
            return obj
        get = obj.get if isinstance(obj, dict) else lambda key, default=None: getattr(obj, key, default)
        params = []
        for p in get("params", ()) or ():
            pget = p.get if isinstance(p, dict) else lambda key, default=None, p=p: getattr(p, key, default)
            params.append(ParamHint(pget("name"), pget("role"), pget("dtype", "float32"), pget("ndim", 0), pget("resource", "")))
        launch = get("launch_dim", None)
        return cls(tuple(params), tuple(launch) if launch else None, bool(get("math_total", False)))

    def to_dict(self) -> dict:
        return {
            "params": [vars(p).copy() for p in self.params],
            "launch_dim": list(self.launch_dim) if self.launch_dim else None,
            "math_total": self.math_total,
        }


@dataclass
class ArgSpec:
    """One kernel argument: its Warp type, role, and host value (numpy) or resource kind."""

    name: str
    wtype: object
    role: str
    host: object = None  # numpy array for arrays and values; dict of field ArgSpecs for structs
    resource: str = ""

    @property
    def is_array(self) -> bool:
        import warp.types as wt

        return wt.is_array(self.wtype)

    @property
    def is_float_array(self) -> bool:
        return self.is_array and self.host.dtype.kind == "f"


@dataclass
class LaunchInputs:
    dim: tuple[int, ...]
    args: list[ArgSpec]
    math_total: bool = False
    keepalive: list = field(default_factory=list)  # resources the last materialize built
    kernel: object = field(default=None, repr=False, compare=False)  # and its source's AST: what
    tree: object = field(default=None, repr=False, compare=False)  # ``device_dependent`` reads

    @functools.cached_property
    def device_dependent(self) -> str:
        """Why the CPU and a CUDA device may give different outputs by design ("" when they should
        not); read from the kernel's source only when an oracle asks (the ``cuda`` one)."""
        return device_dependent(self.kernel, self.tree, {a.name for a in self.args if a.is_array})

    @property
    def outputs(self) -> list[ArgSpec]:
        return [a for a in self.args if a.is_array and a.role in ("out", "inout")]

    @property
    def differentiable_inputs(self) -> list[ArgSpec]:
        return [a for a in self.args if a.is_float_array and a.role == "in"]

    def materialize(self, device: str, *, requires_grad: bool = False, overrides: dict | None = None) -> dict:
        """Fresh Warp arguments by name; ``overrides`` replaces some arrays' host values."""
        overrides = overrides or {}
        self.keepalive = []
        return {a.name: self._value(a, device, requires_grad, overrides.get(a.name)) for a in self.args}

    def _value(self, a: ArgSpec, device, requires_grad, override):
        import warp as wp
        import warp.types as wt

        if a.role == "resource":
            resource = build_resource(a.resource, device, points=int(np.prod(self.dim)))
            self.keepalive.append(resource)
            return resource.id
        if wt.type_is_struct(a.wtype):
            instance = a.wtype()
            for field_spec in a.host.values():
                setattr(instance, field_spec.name, self._value(field_spec, device, False, None))
            return instance
        host = a.host if override is None else override
        if a.is_array:
            grad = requires_grad and a.is_float_array
            return wp.array(host, dtype=a.wtype.dtype, device=device, requires_grad=grad)
        return host_to_value(a.wtype, host)


def synthesize(kernel, hints=None, seed: int = 0) -> LaunchInputs:
    """Seeded inputs for every argument of ``kernel``, in its argument order."""
    hints = Hints.of(hints)
    by_name = {p.name: p for p in hints.params}
    tree = _kernel_ast(kernel)
    written, read = _array_use(tree)
    launch = hints.launch_dim or _DEFAULT_LAUNCH.get(_tid_arity(tree), (16,))
    rng = np.random.default_rng(seed)
    args = []
    for arg in kernel.adj.args:
        hint = by_name.get(arg.label)
        role = hint.role if hint else _inferred_role(arg, written, read)
        resource = (hint.resource if hint else "") or (_resource_use(tree, arg.label) if role == "resource" or _is_uint64(arg.type) else "")
        if resource:
            role = "resource"
        args.append(_arg_spec(arg.label, arg.type, role, resource, launch, rng))
    return LaunchInputs(tuple(launch), args, hints.math_total, kernel=kernel, tree=tree)


def _arg_spec(name, wtype, role, resource, launch, rng) -> ArgSpec:
    import warp.types as wt

    if role == "resource":
        if resource not in _RESOURCE_PREFIXES.values():
            raise UnsupportedKernel(f"resource argument {name!r} of unknown kind {resource!r} (expected mesh, bvh, hash_grid or volume)")
        return ArgSpec(name, wtype, role, resource=resource)
    if wt.is_array(wtype):
        if type(wtype).__name__ != "array":
            raise UnsupportedKernel(f"argument {name!r} is a {type(wtype).__name__}, only wp.array is synthesized")
        shape = _array_shape(wtype.ndim, launch)
        if role in ("out",):
            return ArgSpec(name, wtype, role, np.zeros(shape + _value_shape(wtype.dtype), dtype=_np_scalar(wtype.dtype)))
        return ArgSpec(name, wtype, role, _draw(wtype.dtype, shape, rng, index_high=min(shape)))
    if wt.type_is_struct(wtype):
        fields = {f: _arg_spec(f, var.type, "in", "", launch, rng) for f, var in wtype.vars.items()}
        return ArgSpec(name, wtype, "in", fields)
    return ArgSpec(name, wtype, role if role in ("scalar", "seed") else "scalar", _draw(wtype, (), rng, index_high=_INT_HIGH))


def _array_shape(ndim: int, launch: tuple[int, ...]) -> tuple[int, ...]:
    if ndim == len(launch):
        return tuple(launch)
    if ndim == 1:
        return (int(np.prod(launch)),)
    return tuple(launch[:ndim]) + (4,) * max(0, ndim - len(launch))


def _value_shape(dtype) -> tuple[int, ...]:
    import warp.types as wt

    if wt.type_is_transformation(dtype) or wt.type_is_quaternion(dtype) or wt.type_is_vector(dtype):
        return (dtype._length_,)
    if wt.type_is_matrix(dtype):
        return tuple(dtype._shape_)
    return ()


def _np_scalar(dtype):
    import warp as wp

    scalar = getattr(dtype, "_wp_scalar_type_", dtype)
    if scalar is bool or scalar.__name__ == "bool":
        return np.bool_
    return wp.dtype_to_numpy(scalar)


def _draw(dtype, shape, rng, index_high: int) -> np.ndarray:
    """Finite values of ``dtype`` (any shape prefix); quaternions are unit, ints small and in range."""
    import warp.types as wt

    full = tuple(shape) + _value_shape(dtype)
    np_type = _np_scalar(dtype)
    if np_type is np.bool_:
        return rng.integers(0, 2, size=full).astype(np.bool_)
    if np.issubdtype(np_type, np.integer):
        return rng.integers(0, max(1, index_high), size=full).astype(np_type)
    values = rng.uniform(-_FLOAT_RANGE, _FLOAT_RANGE, size=full)
    if wt.type_is_quaternion(dtype):
        values /= np.linalg.norm(values, axis=-1, keepdims=True)
    elif wt.type_is_transformation(dtype):
        values[..., 3:] /= np.linalg.norm(values[..., 3:], axis=-1, keepdims=True)
    return values.astype(np_type)


def host_to_value(wtype, host: np.ndarray):
    """A Warp scalar/vector/matrix/quaternion/transform argument from its numpy components."""
    if _value_shape(wtype):
        return wtype(*host.reshape(-1).tolist())
    if host.dtype == np.bool_:
        return bool(host)
    return wtype(host.item())


def _is_uint64(wtype) -> bool:
    return getattr(wtype, "__name__", "") == "uint64"


# ---------------------------------------------------------------------------------------------
# Roles and launch shape from the kernel's AST (kernels without generator hints)


def _kernel_ast(kernel) -> ast.FunctionDef | None:
    try:
        module = ast.parse(textwrap.dedent(kernel.adj.source))
    except (SyntaxError, TypeError, AttributeError):
        return None
    return next((n for n in ast.walk(module) if isinstance(n, ast.FunctionDef)), None)


def device_dependent(kernel, tree, arrays: set[str]) -> str:
    """Why ``kernel``'s outputs may differ between the CPU and a CUDA device by design, or "".

    Warp's CPU runs the threads of a launch one after another, CUDA runs them at once: an atomic
    whose result is used (the value before it depends on the order threads reach it), an exchange
    or compare-and-swap, a plain access to an array that atomics update, or a plain write to an
    element that several threads may share (a race) gives order-dependent results; an atomic add,
    minimum or bitwise update whose result is dropped does not (a float sum only rounds
    differently, within the oracle's tolerance). Tile primitives run in blocks of one thread on
    the CPU (Warp's CPU blocks are off) and of ``block_dim`` threads on CUDA, and ``block_dim()``
    tells a kernel which. The kernel and the ``@wp.func`` functions it calls (from its module,
    transitively) are read; their own array writes are not."""
    if tree is None:
        return ""
    functions = {f.func.__name__: f for f in getattr(getattr(kernel, "module", None), "functions", {}).values()
                 if getattr(f, "func", None) is not None}
    seen, todo, atomics = set(), [tree], {}
    while todo:
        nodes = list(ast.walk(todo.pop()))
        # calls whose result is dropped: a bare statement, or assigned to a name nothing reads
        loaded = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        statements = {id(n.value) for n in nodes if isinstance(n, ast.Expr) or (
            isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and n.targets[0].id not in loaded)}
        for call in (n for n in nodes if isinstance(n, ast.Call)):
            name = _call_name(call)
            if name.startswith("tile"):
                return f"tile primitives ({name}): CPU blocks run one thread, CUDA blocks block_dim threads"
            if name == "block_dim":
                return "block_dim() is 1 on the CPU and the launch's block size on CUDA"
            if name.startswith("atomic_"):
                if name not in _ORDER_FREE_ATOMICS or id(call) not in statements:
                    return f"{name} whose result depends on the order threads reach it"
                atomics.setdefault(_subscript_base(call.args[0]) if call.args else None, name)
            elif name in functions and name not in seen:
                seen.add(name)
                sub = _kernel_ast(functions[name])
                if sub is not None:
                    todo.append(sub)
    shared = _shared_write(tree, arrays, set(atomics) - {None})
    return f"{shared}, an element several threads may share: a race" if shared else ""


# atomics whose final effect does not depend on the order threads reach them, if their result is not used
_ORDER_FREE_ATOMICS = ("atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_and", "atomic_or", "atomic_xor")


def _shared_write(tree, arrays: set[str], atomic: set[str]) -> str:
    """The first array access that races, as text: a write (``a[...] = ``, ``a[...] += ``) whose
    index is not exactly the thread's own index from ``wp.tid()``, or any plain access to an array
    that atomics update (``atomic``); "" if there is none."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in atomic:
            return f"{ast.unparse(node)} beside atomics on {node.value.id}"
    target = _tid_target(tree)
    own = {e.id for e in (target.elts if isinstance(target, ast.Tuple) else [target]) if isinstance(e, ast.Name)}
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in arrays:
                index = t.slice.elts if isinstance(t.slice, ast.Tuple) else [t.slice]
                names = [i.id for i in index if isinstance(i, ast.Name)]
                if len(names) != len(index) or not own or not set(names) <= own or len(set(names)) != len(own):
                    return f"a plain write to {ast.unparse(t)}"
    return ""


def _subscript_base(node) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _array_use(tree) -> tuple[set[str], set[str]]:
    """Names written (assigned through a subscript, aug-assigned, first argument of wp.atomic_*) and read."""
    written, read = set(), set()
    if tree is None:
        return written, read
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign):
            targets = [node.target]
            if isinstance(node.target, ast.Subscript):
                read.add(_subscript_base(node.target))
        for t in targets:
            if isinstance(t, (ast.Subscript, ast.Attribute)):
                written.add(_subscript_base(t))
        if isinstance(node, ast.Call) and node.args and _call_name(node).startswith(("atomic_", "array_store")):
            written.add(_subscript_base(node.args[0]))
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            read.add(_subscript_base(node))
    return written - {None}, read - {None}


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _inferred_role(arg, written: set[str], read: set[str]) -> str:
    import warp.types as wt

    if not wt.is_array(arg.type):
        return "scalar"
    if arg.label in written:
        return "inout" if arg.label in read else "out"
    return "in"


def _tid_target(tree):
    """The target of the kernel's first ``... = wp.tid()`` (a name or a tuple of names), or None."""
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _call_name(node.value) == "tid":
            return node.targets[0]
    return None


def _tid_arity(tree) -> int:
    target = _tid_target(tree)
    return len(target.elts) if isinstance(target, ast.Tuple) else 1


def _resource_use(tree, name: str) -> str:
    """The resource kind a uint64 argument is used as: the prefix of a builtin it is passed to first."""
    if tree is None:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name:
            for prefix, kind in _RESOURCE_PREFIXES.items():
                if _call_name(node).startswith(prefix):
                    return kind
    return ""


# ---------------------------------------------------------------------------------------------
# Resources: small real geometry, built per device


def build_resource(kind: str, device: str, points: int = 8):
    """A real Mesh, Bvh, HashGrid or Volume whose ``.id`` a kernel can query. A hash grid holds
    ``points`` points (at least 8; the launch's thread count, so that ``hash_grid_point_id(grid,
    tid)`` is in bounds: with the 8 corners alone it read past the grid's arrays for ``tid >= 8``,
    and the outputs were whatever memory held there)."""
    import warp as wp

    # the unit cube: 8 corners, 12 triangles, all faces outward
    corners = np.array([[x, y, z] for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)], dtype=np.float32)
    if kind == "mesh":
        tris = np.array(
            [0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, 0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, 0, 4, 2, 2, 4, 6, 1, 3, 5, 3, 7, 5],
            dtype=np.int32,
        )
        points = wp.array(corners, dtype=wp.vec3, device=device)
        return wp.Mesh(points=points, indices=wp.array(tris, dtype=wp.int32, device=device))
    if kind == "bvh":
        lowers = wp.array(corners - 0.25, dtype=wp.vec3, device=device)
        uppers = wp.array(corners + 0.25, dtype=wp.vec3, device=device)
        return wp.Bvh(lowers, uppers)
    if kind == "hash_grid":
        grid = wp.HashGrid(4, 4, 4, device=device)
        i = np.arange(max(8, points))  # the corners first, then a 4x4x4 lattice, shifted a little each 64
        lattice = np.stack([i % 4, i // 4 % 4, i // 16 % 4], axis=1) / 3.0 + (i // 64)[:, None] * 0.01
        cloud = np.concatenate([corners, lattice[8:]]).astype(np.float32)
        grid.build(wp.array(cloud, dtype=wp.vec3, device=device), 0.5)
        return grid
    if kind == "volume":
        return wp.Volume.allocate(min=[-1, -1, -1], max=[1, 1, 1], voxel_size=0.5, bg_value=0.0, device=device)
    raise UnsupportedKernel(f"resource argument of unknown kind {kind!r} (expected mesh, bvh, hash_grid or volume)")
