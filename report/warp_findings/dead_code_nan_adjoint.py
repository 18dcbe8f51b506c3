"""Warp 1.19: an unused expression whose local derivative is infinite makes the gradient NaN.

Found by `warpfuzz campaign --oracles grad` (seed 21: 10 of its 22 findings reduce to this
pattern, through `/`, `wp.div`, `wp.log2` and `wp.closest_point_edge_edge`). Warp runs the adjoint
of every statement, used or not; an unused `q = x / 0.0` gets the adjoint 0, and
`adj_div` adds `0 / 0.0 = NaN` to the adjoint of `x`. The output does not depend on `q`, so the
derivative is finite (finite differences agree), but the gradient Warp returns is NaN. Other
reverse-mode systems (JAX's `where` with a singular branch) behave alike; Warp could skip the
adjoint of dead statements, or of a zero incoming adjoint.

Run: python dead_code_nan_adjoint.py   (CPU only; exits 1 while the behaviour is there, 0 once it is not)
"""

import sys

import numpy as np
import warp as wp

wp.config.log_level = wp.LOG_WARNING  # no banner, no load lines


@wp.kernel
def unused_division(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    v = x[i]
    q = v / 0.0  # never used
    out[i] = v * 2.0


def main() -> int:
    wp.init()
    x = wp.array(np.linspace(0.5, 2.0, 4, dtype=np.float32), requires_grad=True, device="cpu")
    out = wp.zeros(4, dtype=float, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(unused_division, dim=4, inputs=[x, out], device="cpu")
    tape.backward(grads={out: wp.ones(4, dtype=float, device="cpu")})
    grad = x.grad.numpy()
    print(f"forward: {out.numpy()} (2 x); gradient: {grad} (expected 2.0 each)")
    bad = bool(np.isnan(grad).any())
    print("reproduced: NaN gradient from an unused division by zero" if bad else "not reproduced")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
