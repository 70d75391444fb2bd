r"""Jitted train and eval steps: optimizer, loss, readout and per-batch statistics.

The train step is one ``jax.value_and_grad`` through ``model.apply`` and the loss of the
config (exact event gradients via the layers' ``custom_vjp``; the spike-count loss uses
the SPEC §5 surrogate), then an Optax update. It returns *sums* over the batch (loss,
correct predictions, spikes, dropped spikes, input overflow per spiking layer) so that the
epoch loop can accumulate them on the device without a host sync per step.

Nothing is hidden: a step whose gradient is not finite is **skipped and counted**
(``nonfinite_grad_steps`` in the metrics), the optional weight-gradient guard reports
how many weight columns it zeroed, and optional weight bumping (:mod:`snnjax.train.bump`)
how many steps it took instead of the optimizer's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from snnjax import spikes
from snnjax.configs import ExperimentConfig
from snnjax.data.augment import augmentation_key, elastic_deform_spike_times
from snnjax.data.registry import get_dataset
from snnjax.nn import LIFDense, SpikingNetwork
from snnjax.readouts import get_readout
from snnjax.train import bump
from snnjax.train.model import spiking_layer_indices
from snnjax.train.parallel import DATA_AXIS, check_batch_size, one_step_in_flight

__all__ = [
    "TrainState",
    "make_optimizer",
    "make_lr_schedule",
    "make_loss_fn",
    "make_predict_fn",
    "make_train_step",
    "make_input_augmentation",
    "make_eval_step",
    "guard_weight_gradients",
]

Metrics = dict[str, jax.Array]


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree; checkpointed every epoch).

    Attributes:
      params: the network's ``"params"`` collection.
      opt_state: the Optax state (holds the step count of the learning-rate schedule).
      step: int32 scalar, optimizer steps taken.
    """

    params: Any
    opt_state: Any
    step: jax.Array


def make_lr_schedule(config: ExperimentConfig, steps_per_epoch: int) -> optax.Schedule:
    """Learning rate per optimizer step.

    ``"constant"``: ``lr``. ``"step"``: ``max(lr * factor**floor(epoch / every), floor)``
    with ``epoch = step // steps_per_epoch`` (Bacho & Chu's "halved every 10 epochs").
    """
    if config.lr_schedule == "constant":
        return optax.constant_schedule(config.lr)
    return optax.exponential_decay(
        init_value=config.lr,
        transition_steps=config.lr_decay_every * steps_per_epoch,
        decay_rate=config.lr_decay_factor,
        staircase=True,
        end_value=config.lr_floor if config.lr_floor > 0 else None,
    )


def make_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """Adam with the config's schedule, after optional global-norm clipping."""
    adam = optax.adam(make_lr_schedule(config, steps_per_epoch))
    if config.grad_clip is not None:
        return optax.chain(optax.clip_by_global_norm(config.grad_clip), adam)
    return adam


def make_loss_fn(config: ExperimentConfig) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``loss(times [B, n_classes, K], labels [B]) -> [B]`` per-sample loss of the config.

    The readout ``config.loss`` is looked up in the registry
    (:func:`snnjax.readouts.get_readout`), e.g. ``"count"``:
    :func:`snnjax.losses.spike_count_loss` with ``(n_true, n_false)``; ``"ttfs"``:
    :func:`snnjax.losses.ttfs_cross_entropy` with ``tau_loss, alpha, beta, tau_syn`` (a
    silent label neuron gives ``+inf`` with a finite gradient).

    Raises:
      ValueError: ``config.loss`` is not a registered readout (the message lists them).
    """
    return get_readout(config.loss).make_loss(config)


def make_predict_fn(config: ExperimentConfig):
    """``predict(times) -> (pred [B], silent [B])`` of the config's readout (e.g. argmax
    count or argmin first spike); ``pred == -1`` when all outputs are silent."""
    return get_readout(config.loss).predict


def make_input_augmentation(config: ExperimentConfig):
    """``augment(times, seed, step) -> times``: the config's training-input augmentation
    (``config.augment``), or ``None`` when it is off.

    ``"elastic"``: :func:`snnjax.data.augment.elastic_deform_spike_times` of the batch
    ``times [B, *input_shape, 1]`` with ``elastic_alpha``, ``elastic_sigma`` (pixels),
    ``t_window``, keyed by :func:`snnjax.data.augment.augmentation_key` ``(seed, step)``
    (``step``: the optimizer step, so a resumed run draws the same distortions).
    """
    if config.augment is None:
        return None
    image_shape = get_dataset(config.dataset).image_shape
    alpha, sigma, t_window = config.elastic_alpha, config.elastic_sigma, config.t_window

    def augment(times, seed, step):
        return elastic_deform_spike_times(
            times,
            augmentation_key(seed, step),
            alpha=alpha,
            sigma=sigma,
            t_window=t_window,
            image_shape=image_shape,
        )

    return augment


def _batch_stats(out, per_sample, labels, predict, spiking, mask=None) -> Metrics:
    """Sums over the (masked) batch; ``mask`` [B] bool marks real samples."""
    pred, silent = predict(out.times)
    if mask is None:
        mask = jnp.ones(labels.shape, bool)
    finite = jnp.isfinite(per_sample) & mask

    def total(x: jax.Array) -> jax.Array:
        """Sum of ``x`` [B] over the real samples, as float32 (explicit casts: no implicit
        bool/int -> float promotion)."""
        return jnp.sum(jnp.where(mask, x.astype(jnp.float32), 0.0))

    stats = {
        "n": total(mask),
        "correct": total(spikes.correct(pred, labels)),
        "silent_outputs": total(silent),
        "label_silent": total(spikes.label_silent(out.times, labels)),
        "loss_sum": jnp.sum(jnp.where(finite, per_sample, 0.0)),
        "loss_finite": total(finite),
    }
    # Per-layer sums, restricted to the real samples.
    spike_sums = [total(spikes.spikes_per_sample(out.layer_times[i])) for i in spiking]
    dropped = [total(d) for d in out.n_dropped]
    overflow = [total(o) for o in out.n_input_overflow]
    stats["spikes"] = jnp.stack(spike_sums).astype(jnp.float32)
    stats["dropped"] = jnp.stack(dropped).astype(jnp.float32)
    stats["overflow"] = jnp.stack(overflow).astype(jnp.float32)
    # The most events of one sample that did not fit (the loop grows a bound by it).
    most = [jnp.max(jnp.where(mask, o, 0), initial=0) for o in out.n_input_overflow]
    stats["overflow_max"] = jnp.stack(most).astype(jnp.float32)
    return stats


def guard_weight_gradients(per_sample_grads, bound: float):
    """Fast & Deep's guard: zero per-sample weight-gradient columns with ``max|dw| > bound``.

    Args:
      per_sample_grads: pytree of ``[B, ..., n_out]`` per-sample gradients (a column = one
        output neuron = the last axis).
      bound: largest allowed ``|dL/dw|`` in a column.

    Returns:
      ``(mean_grads, n_zeroed)``: the batch mean of the guarded gradients (same tree as one
      sample's gradient) and the number of zeroed (sample, column) pairs (float32 scalar).
    """
    zeroed = []

    def guard(g):
        axes = tuple(range(1, g.ndim - 1))
        colmax = jnp.max(jnp.abs(g), axis=axes) if axes else jnp.abs(g)
        keep = colmax <= bound  # [B, n_out]
        zeroed.append(jnp.sum(~keep).astype(jnp.float32))
        keep = keep.reshape(keep.shape[:1] + (1,) * len(axes) + keep.shape[1:])
        return jnp.mean(jnp.where(keep, g, 0.0), axis=0)

    mean = jax.tree.map(guard, per_sample_grads)
    return mean, sum(zeroed, jnp.float32(0.0))


def make_train_step(
    model: SpikingNetwork,
    config: ExperimentConfig,
    optimizer: optax.GradientTransformation,
    mesh: Mesh | None = None,
):
    """Jitted ``step(state, times [B, ...], labels [B]) -> (state, metrics)``.

    ``metrics`` holds batch sums: ``n, correct, silent_outputs, label_silent, loss_sum,
    loss_finite`` (scalars), ``spikes, dropped, overflow`` (``[n_spiking_layers]``),
    ``overflow_max`` (``[n_spiking_layers]``, the most input events of one sample that did
    not fit its layer's bound: a maximum, not a sum, summed across devices when sharded),
    ``nonfinite_grad`` (1.0 when the update was skipped), ``guarded_columns`` and
    ``weight_bump`` (1.0 when ``config.weight_bump`` bumped silent label neurons instead
    of the optimizer step: :mod:`snnjax.train.bump`).

    With ``mesh`` (from :func:`snnjax.train.data_mesh`) the step is data-parallel: the
    batch is split over the mesh's ``"data"`` axis (``B`` must be divisible by its size,
    else ``ValueError``), each device computes the gradient of its shard, and the
    gradients are averaged and the metrics summed across devices (see
    :mod:`snnjax.train.parallel`). ``state`` must then be replicated
    (:func:`snnjax.train.replicate`); the batch may be a host array or
    :func:`snnjax.train.shard_batch`. The result equals the one-device step up to the
    order of float additions. ``step.jitted`` is the jitted function itself (e.g. for
    ``step.jitted.lower(...)``).

    With an augmentation (``config.augment``, :func:`make_input_augmentation`) the step is
    ``step(state, times, labels, seed=None)``: the inputs are distorted on the device
    before the forward pass, with the key of ``(seed, state.step)`` (``seed=None``: the
    config's ``seed``; the training loop passes the run's). Same shapes every step: no
    recompilation.
    """
    local_grads = _make_local_grads(model, config)
    update = _make_update(optimizer)
    if config.weight_bump is not None:
        update = bump.with_weight_bump(update, config.weight_bump, _output_key(model))
    augment = make_input_augmentation(config)
    if mesh is None:
        if augment is None:

            @jax.jit
            def step(state: TrainState, times, labels):
                return update(state, *local_grads(state.params, times, labels))

            return step

        @jax.jit
        def augmented_step(state: TrainState, times, labels, seed=None):
            times = augment(times, config.seed if seed is None else seed, state.step)
            return update(state, *local_grads(state.params, times, labels))

        return augmented_step
    return _data_parallel_step(local_grads, update, augment, config.seed, mesh)


def _output_key(model: SpikingNetwork) -> str:
    """The ``params`` entry of the output layer, which weight bumping changes.

    Raises:
      ValueError: the output layer is not a :class:`snnjax.nn.LIFDense`.
    """
    index = spiking_layer_indices(model)[-1]
    if not isinstance(model.layers[index], LIFDense):
        raise ValueError(
            "weight_bump needs a LIFDense output layer, got "
            f"{type(model.layers[index]).__name__}: set weight_bump=None"
        )
    return f"layers_{index}"


def _make_local_grads(model: SpikingNetwork, config: ExperimentConfig):
    """``local_grads(params, times, labels) -> (grads, stats)`` of one (shard of a) batch."""
    loss_fn = make_loss_fn(config)
    predict = make_predict_fn(config)
    spiking = spiking_layer_indices(model)

    def objective(params, times, labels):
        out = model.apply({"params": params}, times)
        per_sample = loss_fn(out.times, labels)
        # The mean may be +inf (TTFS, silent label neuron); its gradient stays finite.
        return jnp.mean(per_sample), (out, per_sample)

    def grads_and_aux(params, times, labels):
        if config.weight_grad_guard is None:
            (_, aux), grads = jax.value_and_grad(objective, has_aux=True)(params, times, labels)
            return grads, aux, jnp.float32(0.0)

        def one(p, t, y):
            (_, (out, per)), g = jax.value_and_grad(objective, has_aux=True)(p, t[None], y[None])
            return g, (out, per)

        ps_grads, (out, per) = jax.vmap(one, in_axes=(None, 0, 0))(params, times, labels)
        out = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), out)
        grads, n_zeroed = guard_weight_gradients(ps_grads, config.weight_grad_guard)
        return grads, (out, per.reshape(-1)), n_zeroed

    def local_grads(params, times, labels):
        grads, (out, per_sample), n_zeroed = grads_and_aux(params, times, labels)
        stats = _batch_stats(out, per_sample, labels, predict, spiking)
        stats["guarded_columns"] = n_zeroed
        if config.weight_bump is not None:
            stats[bump.SILENT_BY_CLASS] = bump.label_silent_by_class(out.times, labels)
        return grads, stats

    return local_grads


def _make_update(optimizer: optax.GradientTransformation):
    """``update(state, grads, stats) -> (state, metrics)``: the Optax step, skipped (and
    counted) when the gradient is not finite."""

    def update(state: TrainState, grads, stats):
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        # Skip (never apply) a non-finite update; the metrics count it.
        params = jax.tree.map(lambda new, old: jnp.where(finite, new, old), params, state.params)
        opt_state = jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), opt_state, state.opt_state
        )
        metrics = {k: v for k, v in stats.items() if k != "guarded_columns"}
        metrics["nonfinite_grad"] = 1.0 - finite.astype(jnp.float32)
        metrics["guarded_columns"] = stats["guarded_columns"]
        metrics["weight_bump"] = jnp.float32(0.0)  # (set by snnjax.train.bump when on)
        return TrainState(params, opt_state, state.step + 1), metrics

    return update


def _data_parallel_step(local_grads, update, augment, default_seed: int, mesh: Mesh):
    """The train step of :func:`make_train_step` split over ``mesh``'s data axis."""

    def shard_grads(params, times, labels):
        # Per device: the mean gradient of its shard; equal shards -> pmean = batch mean.
        grads, stats = local_grads(params, times, labels)
        return jax.lax.pmean(grads, DATA_AXIS), jax.lax.psum(stats, DATA_AXIS)

    # check_vma=False: the kernels' custom_vjp rules are written for unsharded values.
    sharded = jax.shard_map(
        shard_grads,
        mesh=mesh,
        check_vma=False,
        in_specs=(P(), P(DATA_AXIS), P(DATA_AXIS)),
        out_specs=(P(), P()),
    )
    replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P(DATA_AXIS))

    def sharded_update(state: TrainState, times, labels, seed=None):
        if augment is not None:  # on the whole (sharded) batch, as one device would
            times = augment(times, seed, state.step)
        return update(state, *sharded(state.params, times, labels))

    shardings = (replicated, split, split) + ((replicated,) if augment is not None else ())
    jitted = jax.jit(sharded_update, in_shardings=shardings, out_shardings=(replicated, replicated))
    run = one_step_in_flight(jitted, mesh)

    def step(state: TrainState, times, labels, seed=None):
        check_batch_size(labels.shape[0], mesh)
        if augment is None:
            return run(state, times, labels)
        return run(state, times, labels, np.int32(default_seed if seed is None else seed))

    step.jitted = jitted
    return step


def make_eval_step(model: SpikingNetwork, config: ExperimentConfig, mesh: Mesh | None = None):
    """Jitted ``eval_step(params, times [B, ...], labels [B], mask [B]) -> metrics``.

    Like the train step's metrics (sums over the samples with ``mask``), plus ``active``:
    a tuple with one bool array per spiking layer (its neuron shape, e.g. ``[n]`` or
    ``[H, W, C]``), True where the neuron spiked for at least one masked sample.
    With ``mesh``: data-parallel as :func:`make_train_step` (``B`` divisible by the
    number of devices, ``params`` replicated).
    """
    loss_fn = make_loss_fn(config)
    predict = make_predict_fn(config)
    spiking = spiking_layer_indices(model)

    def local_stats(params, times, labels, mask):
        out = model.apply({"params": params}, times)
        per_sample = loss_fn(out.times, labels)
        stats = _batch_stats(out, per_sample, labels, predict, spiking, mask)
        active = []
        for i in spiking:
            fired = spikes.spike_counts(out.layer_times[i]) > 0  # [B, *neurons]
            fired = fired & mask.reshape((-1,) + (1,) * (fired.ndim - 1))
            active.append(jnp.any(fired, axis=0))
        stats["active"] = tuple(active)
        return stats

    if mesh is None:
        return jax.jit(local_stats)

    def shard_stats(params, times, labels, mask):
        stats = local_stats(params, times, labels, mask)
        active = stats.pop("active")
        stats = jax.lax.psum(stats, DATA_AXIS)
        stats["active"] = tuple(jax.lax.psum(a.astype(jnp.int32), DATA_AXIS) > 0 for a in active)
        return stats

    sharded = jax.shard_map(
        shard_stats,
        mesh=mesh,
        check_vma=False,
        in_specs=(P(),) + (P(DATA_AXIS),) * 3,
        out_specs=P(),
    )
    replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P(DATA_AXIS))
    jitted = jax.jit(
        sharded, in_shardings=(replicated, split, split, split), out_shardings=replicated
    )
    run = one_step_in_flight(jitted, mesh)

    def eval_step(params, times, labels, mask):
        check_batch_size(labels.shape[0], mesh, "evaluation batch size")
        return run(params, times, labels, mask)

    eval_step.jitted = jitted
    return eval_step
