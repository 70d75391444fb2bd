"""Export to and import from NIR, the Neuromorphic Intermediate Representation (PyPI ``nir``).

A :class:`snnjax.nn.SpikingNetwork` becomes a chain of NIR nodes::

    Input -> [Linear | Conv2d] -> CubaLIF -> ... -> [SumPool2d] -> [Flatten] -> ... -> Output

and a NIR graph of exactly that form becomes a ``SpikingNetwork`` and its parameters again.
The mapping, its derivation and what NIR cannot express are in ``docs/nir.md``; in short:

* **Neuron.** NIR's ``CubaLIF`` (nir 1.0) is ``tau_syn dI/dt = -I + w_in S``,
  ``tau_mem dv/dt = (v_leak - v) + r I``, spike when ``v > v_threshold``, then
  ``v = v_reset``. snnjax's neuron is ``dI/dt = -I/tau_syn`` with ``I += w`` per input spike
  and ``du/dt = -u/tau_mem + I`` (no resistance, no ``1/tau`` on the current), spike at
  ``u = theta``, then ``u -= delta_theta``. The input ``S`` of a ``CubaLIF`` node is the
  output of the preceding ``Linear`` node, ``S(t) = sum_k W_k delta(t - t_k)`` (one Dirac
  per input spike, weighted). Integrating NIR's synapse over a Dirac gives the jump
  ``I -> I + w_in W / tau_syn``; the membrane is ``dv/dt = -v/tau_mem + (r/tau_mem) I``.
  Hence ``v == u`` for every input iff ``W = w`` and ``(r/tau_mem)(w_in/tau_syn) = 1``, i.e.
  ``r * w_in = tau_mem * tau_syn``. snnjax exports ``w_in = tau_syn`` and ``r = tau_mem``,
  which also makes NIR's current ``I`` equal to snnjax's current. ``v_leak = 0``,
  ``v_threshold = theta``.
* **Reset.** NIR's ``CubaLIF`` resets to a value; snnjax subtracts ``delta_theta``. In
  continuous time the spike happens exactly at ``v = theta``, so subtracting
  ``delta_theta`` *is* setting ``v = theta - delta_theta``: snnjax exports
  ``v_reset = theta - delta_theta`` (0 for the default ``delta_theta = theta``) and records
  ``reset = "subtractive"`` and ``delta_theta`` in the node metadata. (A time-stepped
  consumer overshoots ``theta`` by ``O(dt)``; subtractive and to-value reset then differ by
  that overshoot.)
* **Pooling.** Spike-union pooling (the time-sorted merge of the window's trains, keeping
  every spike) is ``SumPool2d`` with ``kernel_size = stride = window``: the sum of the
  window's Dirac trains is the union of its events, counted with multiplicity, and the
  next layer (a ``Linear``/``Conv2d`` followed by ``CubaLIF``) is linear in its input.
* **Layouts.** snnjax kernels ``[n_in, n_out]`` become ``Linear.weight [n_out, n_in]``;
  conv kernels ``[kh, kw, C_in, C_out]`` become ``Conv2d.weight [C_out, C_in, kh, kw]``
  (cross-correlation, "valid", stride 1, as in snnjax). NIR shapes are channel-first
  ``(C, H, W)``; snnjax feature maps are ``[H, W, C]``. ``Flatten`` merges every dim of
  the NIR type (``start_dim=0``) in ``(c, h, w)`` order, so the kernel of the dense layer
  after a flatten is permuted from snnjax's ``(h, w, c)`` row order.
* **What NIR cannot carry** (stored as node metadata and restored by :func:`import_nir`,
  or given as its keyword arguments): the spike buffers ``max_spikes`` (a NIR neuron fires
  without limit: the graph equals the snnjax network on inputs for which snnjax reports no
  dropped spikes), ``t_max`` (simulate ``[0, t_max]`` and discard later spikes),
  ``max_input_events`` and a truncating pool's ``max_spikes``.

The conversion is one handler per snnjax layer type (:mod:`snnjax.interop.nir.export`)
and one per NIR node type (:mod:`snnjax.interop.nir.imports`), each one line of a small
registry there.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from snnjax.nn import make_dense_network
  >>> from snnjax.interop.nir import export_nir, import_nir
  >>> net = make_dense_network(sizes=(4, 3, 2), thetas=(0.2, 0.5), max_spikes=(3, 3))
  >>> params = net.init(jax.random.key(0), jnp.zeros((1, 4, 1)))
  >>> graph = export_nir(net, params)
  >>> sorted(graph.nodes)
  ['input', 'layers_0_lif', 'layers_0_linear', 'layers_1_lif', 'layers_1_linear', 'output']
  >>> net2, params2 = import_nir(graph)
  >>> [m.max_spikes for m in net2.layers]
  [3, 3]
"""

from snnjax.interop.nir._common import MAPPING_VERSION
from snnjax.interop.nir.export import export_nir, save_nir
from snnjax.interop.nir.imports import import_nir, load_nir

__all__ = ["MAPPING_VERSION", "export_nir", "import_nir", "load_nir", "save_nir"]
