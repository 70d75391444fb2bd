"""The trade-off laboratory: what Bacho & Chu (2023) measure, for any trained network (SPEC §7).

Pure, jit-friendly functions first; spike trains are ``[..., n, K]`` float seconds, sorted,
``+inf`` = empty slot.

* **Sparsity / energy** (:mod:`~snnjax.analysis.sparsity`): :func:`spikes_per_sample`,
  :func:`synaptic_operations` (each spike x its exact fan-out, conv borders included),
  :func:`neuron_spike_totals` + :func:`silent_fraction` (dead neurons over a data set),
  :func:`label_silent`, :func:`sparsity_stats`.
* **Latency** (:mod:`~snnjax.analysis.latency`): :func:`decision_time`,
  :func:`accuracy_vs_deadline`, :func:`truncate_times`.
* **Robustness** (:mod:`~snnjax.analysis.robustness`): :func:`robustness_sweep` and its
  shortcuts (input jitter, input deletion, weight noise, hidden jitter), every noise seed
  evaluated with ``jax.vmap`` in one compiled function; the perturbations
  :func:`jitter_spike_times`, :func:`delete_spikes`, :func:`perturb_weights` and
  :func:`noisy_outputs` (one noisy forward pass).
* **Convergence** (:mod:`~snnjax.analysis.convergence`): :func:`epochs_to_accuracy`,
  :func:`accuracy_curve`, and the paper's toy :func:`convergence_map`.
* **One pass over a data set** (:mod:`~snnjax.analysis.evaluate`): :func:`evaluate_tradeoffs`
  — accuracy, spikes, SynOps, silent neurons and decision times of a trained model.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from snnjax.nn import make_dense_network
  >>> from snnjax import analysis
  >>> net = make_dense_network(sizes=(5, 4, 2), thetas=(0.2, 0.5), max_spikes=(3, 3))
  >>> x, y = jnp.full((6, 5, 1), 0.01), jnp.array([0, 1, 0, 1, 0, 1])
  >>> params = net.init(jax.random.key(0), x)
  >>> ev = analysis.evaluate_tradeoffs(net, params, x, y, "count")
  >>> sorted(ev.summary())[:3]
  ['accuracy', 'decision_time_correct_median_s', 'decision_time_mean_s']
  >>> res = analysis.input_jitter_sweep(net, params, x, y, [0.0, 0.01], n_seeds=4, key=0)
  >>> res.per_seed.shape
  (2, 4)
"""

from snnjax.analysis.convergence import (
    TOY_GRID,
    TOY_INPUT_TIMES,
    TOY_LABELS,
    ConvergenceMap,
    ToyProblem,
    accuracy_curve,
    convergence_map,
    epochs_to_accuracy,
    toy_convergence_runs,
    toy_problem,
)
from snnjax.analysis.evaluate import TradeoffEvaluation, evaluate_tradeoffs
from snnjax.analysis.latency import accuracy_vs_deadline, decision_time, truncate_times
from snnjax.analysis.robustness import (
    KINDS,
    SEED_MODES,
    RobustnessResult,
    delete_spikes,
    hidden_jitter_sweep,
    input_deletion_sweep,
    input_jitter_sweep,
    jitter_spike_times,
    noisy_outputs,
    perturb_weights,
    robustness_sweep,
    weight_noise_sweep,
)
from snnjax.analysis.sparsity import (
    SparsityStats,
    conv_fan_out,
    dense_fan_out,
    label_silent,
    layer_fan_out,
    layer_names,
    neuron_spike_totals,
    silent_fraction,
    sparsity_stats,
    spikes_per_sample,
    spiking_layer_indices,
    synaptic_operations,
)

__all__ = [
    "KINDS",
    "SEED_MODES",
    "TOY_GRID",
    "TOY_INPUT_TIMES",
    "TOY_LABELS",
    "ConvergenceMap",
    "RobustnessResult",
    "SparsityStats",
    "ToyProblem",
    "TradeoffEvaluation",
    "accuracy_curve",
    "accuracy_vs_deadline",
    "conv_fan_out",
    "convergence_map",
    "decision_time",
    "delete_spikes",
    "dense_fan_out",
    "epochs_to_accuracy",
    "evaluate_tradeoffs",
    "hidden_jitter_sweep",
    "input_deletion_sweep",
    "input_jitter_sweep",
    "jitter_spike_times",
    "label_silent",
    "layer_fan_out",
    "layer_names",
    "neuron_spike_totals",
    "noisy_outputs",
    "perturb_weights",
    "robustness_sweep",
    "silent_fraction",
    "sparsity_stats",
    "spikes_per_sample",
    "spiking_layer_indices",
    "synaptic_operations",
    "toy_convergence_runs",
    "toy_problem",
    "truncate_times",
    "weight_noise_sweep",
]
