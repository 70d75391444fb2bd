# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The functional API on one neuron
#
# This tutorial drives a single leaky integrate-and-fire neuron with three input spikes
# through [`snnjax.lif_layer`][snnjax.lif_layer], the functional core of snnjax. It
# shows the three things that make the method different from time-stepped simulators:
#
# 1. the output spike times are computed **in closed form** between input events (no time
#    grid),
# 2. they agree with the float64 NumPy oracle [`snnjax.lif.reference`][snnjax.lif.reference],
#    whose [`membrane_potential`][snnjax.lif.reference.membrane_potential] we plot, and
# 3. their gradients with respect to the weights are **exact**, which we check against a
#    finite difference.
#
# The page is generated from `docs/tutorials/one_neuron.py` (jupytext percent format) and
# executed every time the documentation is built.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import snnjax
from snnjax.lif.reference import membrane_potential, simulate_layer

jax.config.update("jax_enable_x64", True)  # float64, so the finite difference is precise

# %% [markdown]
# ## The neuron
#
# [`LIFParams`][snnjax.LIFParams] holds the physical parameters: the synaptic time
# constant `tau_syn` (the membrane time constant is `tau_mem = 2 * tau_syn`, which is what
# makes the spike time a closed form), the threshold `theta` and the subtractive reset
# `delta_theta` (default: `theta`).

# %%
params = snnjax.LIFParams(tau_syn=5e-3, theta=1.0)
print("tau_syn =", float(params.tau_syn), "s, tau_mem =", float(params.tau_mem), "s")
print("theta =", float(params.theta), ", delta_theta =", float(params.delta_theta))

# %% [markdown]
# ## Three input spikes, one neuron
#
# Spike trains are arrays `[..., n_in, K]` of times in seconds, sorted per neuron, with
# `+inf` marking an empty slot. Here: three input neurons, one spike each, and a weight
# matrix `[n_in, n_out] = [3, 1]`. The output buffer holds `max_spikes=5` spikes per
# neuron; unused slots stay `inf`.

# %%
input_times = jnp.array([[1e-3], [4e-3], [6e-3]])  # [n_in=3, K_in=1]
weights = jnp.array([[300.0], [250.0], [280.0]])  # [n_in=3, n_out=1]
t_max = 0.05

out = snnjax.lif_layer(input_times, weights, params, max_spikes=5, t_max=t_max)
spikes = np.asarray(out.times[0])
print("output spike times (ms):", np.round(spikes * 1e3, 4))
print("spikes beyond the buffer:", int(out.n_dropped[0]))

# %% [markdown]
# The NumPy event simulator in `snnjax.lif.reference` is the oracle every kernel is tested
# against. It gives the same times:

# %%
ref_times, ref_dropped = simulate_layer(
    np.asarray(input_times),
    np.asarray(weights),
    tau_syn=5e-3,
    theta=1.0,
    t_max=t_max,
    max_spikes=5,
)
print("reference spike times (ms):", np.round(ref_times[0] * 1e3, 4))
finite = np.isfinite(spikes)
print("max |difference| (s):", np.max(np.abs(spikes[finite] - ref_times[0][finite])))

# %% [markdown]
# ## The membrane potential
#
# [`membrane_potential`][snnjax.lif.reference.membrane_potential] evaluates the closed-form
# `u(t)`, resets included, from the inputs and the neuron's own spikes. The potential
# touches the threshold exactly at each output spike, then drops by `delta_theta`.

# %%
t = np.linspace(0.0, 0.03, 3001)
u = membrane_potential(
    t, np.asarray(input_times), np.asarray(weights), spikes[None, :], tau_syn=5e-3, theta=1.0
)[:, 0]

fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(t * 1e3, u, label="membrane potential $u(t)$")
ax.axhline(float(params.theta), color="k", ls="--", lw=1, label=r"threshold $\theta$")
for i, ti in enumerate(np.asarray(input_times)[:, 0]):
    label = "input spike" if i == 0 else None
    ax.axvline(ti * 1e3, color="tab:green", lw=1, alpha=0.6, label=label)
for i, ts in enumerate(spikes[finite]):
    ax.axvline(ts * 1e3, color="tab:red", lw=1.5, label="output spike" if i == 0 else None)
ax.set_xlabel("time (ms)")
ax.set_ylabel("u")
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exact gradients
#
# `lif_layer` has a custom VJP, so `jax.grad` of any spike time with respect to the
# weights (or the input times) is the exact derivative of the closed form. We take the
# gradient of the **last** output spike time and compare it with a central finite
# difference.

# %%
n_spikes = int(finite.sum())


def last_spike_time(w):
    times = snnjax.lif_layer(input_times, w, params, max_spikes=5, t_max=t_max).times
    return times[0, n_spikes - 1]


grad = jax.grad(last_spike_time)(weights)

eps = 1e-4
fd = np.zeros(weights.shape)
for j in range(weights.shape[0]):
    dw = jnp.zeros_like(weights).at[j, 0].set(eps)
    fd[j, 0] = (last_spike_time(weights + dw) - last_spike_time(weights - dw)) / (2 * eps)

print("jax.grad          :", np.asarray(grad[:, 0]))
print("finite difference :", fd[:, 0])
print("max relative error:", np.max(np.abs(np.asarray(grad) - fd) / np.abs(fd)))

# %% [markdown]
# Every weight gradient is negative: a stronger input makes the neuron reach the
# threshold earlier. The same holds inside a network: layers built with
# [`snnjax.nn`][snnjax.nn] chain `lif_layer` calls, and training differentiates a loss of
# the output spike times (see [`snnjax.losses`][snnjax.losses]).
