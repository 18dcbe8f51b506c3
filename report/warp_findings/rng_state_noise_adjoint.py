"""Warp 1.19: the adjoint of wp.noise / wp.pnoise / wp.curlnoise reads an RNG state that a later
wp.randf (or any sampler that advances the state) has already moved on.

Found by `warpfuzz campaign --oracles grad` (seed 21), reduced by `warpfuzz findings --reduce`,
then cut down by hand. In the generated backward function the forward replay runs
`var_5 = wp::randf(var_1)`, which advances `var_1` in place (`randf(uint32& state)`), and the
reverse pass then calls `adj_noise(var_1, ...)` with the advanced state: the gradient of a
different noise field. The forward values are right; only the gradient is wrong.

Run: python rng_state_noise_adjoint.py   (CPU only; exits 1 while the bug is there, 0 once fixed)
"""

import sys

import numpy as np
import warp as wp

wp.config.log_level = wp.LOG_WARNING  # no banner, no load lines


@wp.kernel
def noise_then_randf(seed: int, x: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    state = wp.rand_init(seed, i)
    n = wp.noise(state, x[i])
    wp.randf(state)  # advances the state after noise has used it
    out[i] = n


@wp.kernel
def noise_alone(seed: int, x: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    state = wp.rand_init(seed, i)
    out[i] = wp.noise(state, x[i])


def adjoint_and_finite_difference(kernel, x: np.ndarray, h: float = 1e-3):
    n = len(x)
    xs = wp.array(x, dtype=wp.vec3, requires_grad=True, device="cpu")
    out = wp.zeros(n, dtype=float, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=n, inputs=[7, xs, out], device="cpu")
    tape.backward(grads={out: wp.ones(n, dtype=float, device="cpu")})
    fd = np.zeros_like(x)
    for j in range(3):
        for sign in (1.0, -1.0):
            shifted = x.copy()
            shifted[:, j] += sign * h
            o = wp.zeros(n, dtype=float, device="cpu")
            wp.launch(kernel, dim=n, inputs=[7, wp.array(shifted, dtype=wp.vec3, device="cpu"), o], device="cpu")
            fd[:, j] += sign * o.numpy() / (2 * h)
    return xs.grad.numpy(), fd


def main() -> int:
    wp.init()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    bad = False
    for kernel in (noise_alone, noise_then_randf):
        adjoint, fd = adjoint_and_finite_difference(kernel, x)
        error = float(np.abs(adjoint - fd).max())
        print(f"{kernel.key}: max |adjoint - finite difference| = {error:.3g} (element 0: adjoint {adjoint[0]}, fd {fd[0]})")
        bad |= kernel is noise_then_randf and error > 1e-2
    print("reproduced: the adjoint of wp.noise uses the advanced RNG state" if bad else "not reproduced")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
