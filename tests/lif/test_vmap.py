"""``vmap`` of the LIF layer, every backend: over samples, over weights, over parameters,
nested, and composed with ``grad`` and ``jit`` in both orders.

Each vmapped result equals a Python loop of batched calls of the same backend (spike times
bitwise; gradients to float rounding, the weight gradient being summed in another order) and
the pure-JAX ``"loop"`` backend (float32 rounding). For the compiled ``"ffi"`` backend the
compiled programs are inspected too: every path is one call of each kernel over the folded
batch (no loop over the vmapped axis), and ``grad`` of a ``vmap`` with shared weights writes
one weight gradient, not one per vmapped sample.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import BACKENDS

import snnjax

PARAMS = snnjax.LIFParams(tau_syn=0.13, theta=0.2, delta_theta=0.15)
V, B, N_IN, N_OUT, K_IN, K = 3, 4, 12, 9, 3, 4
needs_ffi = pytest.mark.skipif("ffi" not in BACKENDS, reason="no compiled CPU kernel here")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 0.25, (V, B, N_IN, K_IN)), axis=-1)
    t[rng.random(t.shape) < 0.25] = np.inf
    t = np.sort(np.round(t, 3), axis=-1).astype(np.float32)
    w = rng.normal(0.6, 1.2, (N_IN, N_OUT)).astype(np.float32)
    ws = (w * rng.normal(1.0, 0.2, (V, N_IN, N_OUT))).astype(np.float32)
    cot = rng.normal(size=(B, N_OUT, K)).astype(np.float32)
    return jnp.asarray(t), jnp.asarray(w), jnp.asarray(ws), jnp.asarray(cot)


T, W, WS, COT = _data()


def _times(t, w, backend, params=PARAMS, t_max=0.3):
    return snnjax.lif_layer(t, w, params, max_spikes=K, t_max=t_max, backend=backend).times


def _loss(t, w, backend, params=PARAMS, t_max=0.3):
    times = _times(t, w, backend, params, t_max)
    return jnp.sum(jnp.where(jnp.isfinite(times), times * COT[..., : times.shape[-2], :], 0.0))


_grad = jax.grad(_loss, argnums=(0, 1))


def _close(a, b, rtol=2e-5):
    """Equal spike patterns; finite values equal to float32 rounding."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    np.testing.assert_allclose(
        np.where(np.isfinite(a), a, 0), np.where(np.isfinite(b), b, 0), rtol=rtol, atol=1e-6
    )


def _same(a, b, backend):
    """Bitwise for the compiled kernel (the vmapped call runs the very same per-sample
    code); float32 rounding for the pure-JAX kernel, which XLA vectorises differently."""
    if backend == "ffi":
        np.testing.assert_array_equal(a, b)
    else:
        _close(a, b)


def test_vmap_over_samples_equals_the_batched_call(backend):
    """vmap of a one-sample layer over the batch == one batched call == the loop backend."""
    t = T[0]
    vm = jax.jit(jax.vmap(lambda ti: _times(ti, W, backend)))(t)
    _same(vm, jax.jit(_times, static_argnums=2)(t, W, backend), backend)
    _close(vm, _times(t, W, "loop"))


def test_vmap_over_weights_and_nested_vmaps_equal_python_loops(backend):
    """vmap over weight sets [V, n_in, N] (noise seeds) and vmap over seeds of vmap over
    samples (both orders) == Python loops of batched calls."""
    one = jax.jit(_times, static_argnums=2)
    seeds = jax.jit(jax.vmap(lambda w: _times(T[0], w, backend)))(WS)
    _same(seeds, jnp.stack([one(T[0], w, backend) for w in WS]), backend)
    _close(seeds, jnp.stack([_times(T[0], w, "loop") for w in WS]))
    per_sample = lambda w: jax.vmap(lambda ti: _times(ti, w, backend))(T[0])
    nested = jax.jit(jax.vmap(per_sample))(WS)
    _same(nested, seeds, backend)
    # seeds x batches: a different batch for every seed, samples vmapped inside
    both = jax.jit(jax.vmap(lambda t, w: jax.vmap(lambda ti: _times(ti, w, backend))(t)))(T, WS)
    _same(both, jnp.stack([one(t, w, backend) for t, w in zip(T, WS, strict=True)]), backend)
    inner_seeds = jax.jit(jax.vmap(lambda ti: jax.vmap(lambda w: _times(ti, w, backend))(WS)))
    _same(inner_seeds(T[0]), jnp.swapaxes(seeds, 0, 1), backend)


def test_grad_of_vmap_over_samples(backend):
    """grad of the summed vmapped loss (shared weights) == grad of the batched call."""
    t = T[0]
    vm_loss = lambda t, w: jnp.sum(jax.vmap(lambda ti, ci: _loss_one(ti, w, ci, backend))(t, COT))
    d_t, d_w = jax.jit(jax.grad(vm_loss, argnums=(0, 1)))(t, W)
    ref_t, ref_w = jax.jit(_grad, static_argnums=2)(t, W, backend)
    _close(d_w, ref_w, rtol=1e-5)
    _close(d_t, ref_t, rtol=1e-5)
    loop_t, loop_w = _grad(t, W, "loop")
    _close(d_w, loop_w, rtol=1e-4)
    _close(d_t, loop_t, rtol=1e-4)


def _loss_one(t, w, cot, backend, params=PARAMS):
    times = _times(t, w, backend, params)
    return jnp.sum(jnp.where(jnp.isfinite(times), times * cot, 0.0))


def test_vmap_of_grad_gives_per_sample_gradients(backend):
    """vmap of the gradient (shared weights) == a Python loop of one-sample gradients."""
    g = jax.grad(_loss_one, argnums=(0, 1))
    d_t, d_w = jax.jit(jax.vmap(g, in_axes=(0, None, 0, None)), static_argnums=3)(
        T[0], W, COT, backend
    )
    assert d_w.shape == (B, N_IN, N_OUT)
    one = jax.jit(g, static_argnums=3)
    for i in range(B):
        ref_t, ref_w = one(T[0, i], W, COT[i], backend)
        _close(d_w[i], ref_w, rtol=1e-5)
        _close(d_t[i], ref_t, rtol=1e-5)
    assert np.abs(np.asarray(d_w)).sum(axis=(1, 2)).min() > 0  # every sample has a gradient


def test_gradients_under_vmap_over_weights(backend):
    """vmap of grad and grad of vmap over weight sets (and nested over samples) == loops."""
    one = jax.jit(_grad, static_argnums=2)
    ref = [one(T[0], w, backend) for w in WS]
    vg_t, vg_w = jax.jit(jax.vmap(lambda w: _grad(T[0], w, backend)))(WS)
    gv_w = jax.jit(jax.grad(lambda ws: jnp.sum(jax.vmap(lambda w: _loss(T[0], w, backend))(ws))))(
        WS
    )
    for s, (ref_t, ref_w) in enumerate(ref):
        _close(vg_w[s], ref_w, rtol=1e-5)
        _close(vg_t[s], ref_t, rtol=1e-5)
        _close(gv_w[s], ref_w, rtol=1e-5)
        _close(gv_w[s], _grad(T[0], WS[s], "loop")[1], rtol=1e-4)

    # grad over seeds of (vmap over seeds of vmap over samples), one batch per seed
    def nested(ws):
        per_seed = lambda t, w: jnp.sum(
            jax.vmap(lambda ti, ci: _loss_one(ti, w, ci, backend))(t, COT)
        )
        return jnp.sum(jax.vmap(per_seed)(T, ws))

    got = jax.jit(jax.grad(nested))(WS)
    for s in range(V):
        _close(got[s], one(T[s], WS[s], backend)[1], rtol=1e-5)


def test_vmap_over_layer_parameters(backend):
    """vmap over t_max, theta and tau_syn (with inputs and weights) == a loop; gradients too."""
    t_max = jnp.asarray([0.2, 0.25, 0.3], jnp.float32)
    theta = jnp.asarray([0.15, 0.2, 0.3], jnp.float32)
    tau = jnp.asarray([0.1, 0.13, 0.2], jnp.float32)

    def loss(t, w, tm, th, ta):
        return _loss(t, w, backend, snnjax.LIFParams(tau_syn=ta, theta=th, delta_theta=0.15), tm)

    def times(t, w, tm, th, ta):
        params = snnjax.LIFParams(tau_syn=ta, theta=th, delta_theta=0.15)
        return _times(t, w, backend, params, tm)

    args = (T, WS, t_max, theta, tau)
    got = jax.jit(jax.vmap(times))(*args)
    grads = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1))))(*args)
    for s in range(V):
        one = [a[s] for a in args]
        _same(got[s], jax.jit(times)(*one), backend)
        ref_t, ref_w = jax.jit(jax.grad(loss, argnums=(0, 1)))(*one)
        _close(grads[0][s], ref_t, rtol=1e-5)
        _close(grads[1][s], ref_w, rtol=1e-5)


# --------------------------------------------------------------------------------------
# the compiled kernel: one call per kernel over the folded batch, one weight gradient
# --------------------------------------------------------------------------------------


def _kernel_calls(fn, *args) -> list[tuple[str, str]]:
    """``(target, result types)`` of every custom call in the compiled program of ``fn``."""
    text = jax.jit(fn).lower(*args).as_text()
    assert "stablehlo.while" not in text, "a loop over the vmapped axis"
    return re.findall(r"custom_call @(\w+)\([^\n]*-> ([^\n]*)", text)


@needs_ffi
def test_ffi_grad_of_vmap_writes_one_weight_gradient():
    vm_loss = lambda w, t: jnp.sum(jax.vmap(lambda ti, ci: _loss_one(ti, w, ci, "ffi"))(t, COT))
    calls = dict(_kernel_calls(jax.grad(vm_loss), W, T[0]))
    assert set(calls) == {"SnnjaxSortEventsF32", "SnnjaxLifForwardF32", "SnnjaxLifBackwardF32"}
    assert calls["SnnjaxLifForwardF32"].startswith(f"(tensor<{B}x{N_OUT}x{K}xf32>")
    # one [n_in, N] weight gradient for the whole vmapped batch
    assert calls["SnnjaxLifBackwardF32"].startswith(f"(tensor<{N_IN}x{N_OUT}xf32>")


@needs_ffi
def test_ffi_every_vmap_path_is_one_call_per_kernel():
    g = jax.grad(lambda t, w, c: _loss_one(t, w, c, "ffi"), argnums=(0, 1))
    per_sample = _kernel_calls(jax.vmap(g, in_axes=(0, None, 0)), T[0], W, COT)
    seeds = _kernel_calls(jax.vmap(lambda w: _times(T[0], w, "ffi")), WS)
    nested = _kernel_calls(
        jax.vmap(lambda t, w: jax.vmap(lambda ti: _times(ti, w, "ffi"))(t)), T, WS
    )
    for calls in (per_sample, seeds, nested):
        targets = [name for name, _ in calls]
        assert len(targets) == len(set(targets)), targets  # each kernel once
    assert dict(per_sample)["SnnjaxLifBackwardIndexedF32"].startswith(
        f"(tensor<{B}x{N_IN}x{N_OUT}xf32>"  # per-sample gradients, as vmap(grad) asks
    )
    assert dict(seeds)["SnnjaxLifForwardTimesF32"].startswith(f"(tensor<{V * B}x")
    assert dict(nested)["SnnjaxLifForwardTimesF32"].startswith(f"(tensor<{V * B}x")


@needs_ffi
def test_ffi_forward_mode_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="reverse mode"):
        jax.jvp(lambda w: _times(T[0], w, "ffi"), (W,), (W,))
