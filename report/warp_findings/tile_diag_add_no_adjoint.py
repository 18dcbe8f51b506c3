"""Warp 1.19: wp.tile_diag_add has no adjoint, and nothing says so: the gradient through it is 0.

Found by `warpfuzz campaign --oracles grad` (seed 21: 3 of its 22 findings reduce to this
kernel). `adj_tile_diag_add` in warp/native/tile.h is an empty stub marked MISSINGADJOINT and the
builtin is registered as not differentiable, so a Tape differentiates through it without a
warning and every gradient behind it is 0. Known upstream: NVIDIA/warp issue #1785 ("Add
automatic differentiation support for tile_diag_add()"), closed upstream; the 1.19.0 wheel still has the stub.

Run: python tile_diag_add_no_adjoint.py   (CPU only; exits 1 while the bug is there, 0 once fixed)
"""

import sys

import numpy as np
import warp as wp

wp.config.log_level = wp.LOG_WARNING  # no banner, no load lines


@wp.kernel
def add_identity(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    t = wp.tile_load(a, shape=(8, 8))
    wp.tile_store(out, wp.tile_diag_add(t, wp.tile_ones(shape=(8,), dtype=float)))


def main() -> int:
    wp.init()
    a = wp.array(np.arange(64, dtype=np.float32).reshape(8, 8) / 10, dtype=float, requires_grad=True, device="cpu")
    out = wp.zeros((8, 8), dtype=float, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(add_identity, dim=[1], inputs=[a, out], device="cpu")
    tape.backward(grads={out: wp.ones((8, 8), dtype=float, device="cpu")})
    grad = a.grad.numpy()
    # out = a + I, so d(sum out)/da is 1 everywhere
    print(f"forward ok: {np.allclose(out.numpy(), a.numpy() + np.eye(8))}; gradient of sum(out) by a: min {grad.min()}, max {grad.max()} (expected 1)")
    bad = not np.allclose(grad, 1.0)
    print("reproduced: no gradient through wp.tile_diag_add" if bad else "not reproduced")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
