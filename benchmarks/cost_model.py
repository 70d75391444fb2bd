"""Cost model (an ESTIMATE) of the pure-JAX event backends on an H100-class GPU, from a CPU.

No GPU was available to this project when it was written; this script says what one would
likely cost, from two things it measures on the CPU:

* **Sequential steps**: the trips of every ``while_loop`` and ``scan`` the computation runs
  on real data, counted by running its jaxpr eagerly (an interpreter over the jaxpr:
  every loop is run in Python, trip by trip, and counted; every other primitive runs as
  usual, so the results are the real ones). Generic: any backend written in JAX is counted
  with no instrumentation of its code. On a GPU each trip is a host round trip or at least
  a few kernel launches; the per-trip overhead is the assumption below.
* **Flops and bytes**: XLA's ``jax.jit(f).lower(...).compile().cost_analysis()`` of the whole
  function, which counts the body of a loop **once**; every loop body's own cost (its
  body compiled alone, minus the loops nested in it) is added for each further trip.

Backends: each available registered backend whose computation holds no foreign-function
call (the ``"ffi"`` kernel is a CPU library; ``"loop"``, and ``"parallel"`` once it is
registered, are JAX), on the MNIST network of ``mnist_multispike`` (batch 50 of
latency-encoded real test digits): the hidden layer (784 -> 800, ``K`` 30) and the output
layer (800 -> 10, its input the hidden spikes, bounded as the training loop does),
forward + backward, and the full train step.

Estimate of the time on an H100-class GPU (a range): ``steps x overhead + bytes /
bandwidth + flops / peak`` with overhead 5-20 us per loop trip, 3 TB/s, 30 TFLOP/s (the
low end overlaps memory and compute: ``max`` instead of the sum). It ignores launch
overhead outside loops, caches, occupancy and the float32/float64 split; it is an
estimate, not a measurement (``benchmarks/bench_device.py`` measures).

    python -m benchmarks.cost_model --data-dir ../shared/data/mnist \\
        --markdown docs/generated/cost_model.md
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

import snnjax
from snnjax.lif.backends import available_backends

try:  # python -m benchmarks.cost_model (from the repository root)
    from benchmarks.bench_device import layer_inputs, load_digits
    from benchmarks.bench_train import setup
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/cost_model.py
    from bench_device import layer_inputs, load_digits
    from bench_train import setup
    from benchutil import command_line, machine_line, write_markdown

#: The assumptions of the estimate (an H100-class GPU).
OVERHEAD_S = (5e-6, 20e-6)  # per loop trip (launches, a loop condition read back)
BANDWIDTH = 3e12  # bytes/s
PEAK_FLOPS = 30e12  # flop/s (float32, no tensor cores)
GOAL_STEPS = 50  # the design goal: sequential steps per layer per training step

_CALLS = ("jit", "pjit", "closed_call", "core_call", "remat", "checkpoint", "custom_jvp_call")
_LOOPS = ("while", "scan")


# ---------------------------------------------------------------- counting loop trips


@dataclasses.dataclass
class Tally:
    """Trips per loop equation (keyed by ``id`` of the equation), with its body."""

    trips: dict[int, int] = dataclasses.field(default_factory=dict)
    bodies: dict[int, object] = dataclasses.field(default_factory=dict)

    def add(self, eqn, body, n: int) -> None:
        self.trips[id(eqn)] = self.trips.get(id(eqn), 0) + n
        self.bodies[id(eqn)] = body

    @property
    def steps(self) -> int:
        return sum(self.trips.values())


def _closed(j):
    return j if isinstance(j, jcore.ClosedJaxpr) else jcore.ClosedJaxpr(j, ())


def _is_loop_eqn(eqn) -> bool:
    """A loop, or a call or branch that holds one (it must be evaluated to be counted)."""
    return eqn.primitive.name in _LOOPS or any(
        _has_loops(sub) for sub in jcore.jaxprs_in_params(eqn.params)
    )


_SEGMENTS: dict[int, list] = {}


def _segments(jaxpr) -> list:
    """The equations of ``jaxpr`` as a list of ``eqn`` (to evaluate: loops) and compiled
    runs ``(fn, invars, outvars)`` of the equations between them."""
    if id(jaxpr) in _SEGMENTS:
        return _SEGMENTS[id(jaxpr)][1]
    parts, run = [], []
    needed_later = [set() for _ in range(len(jaxpr.eqns) + 1)]
    later = {v for v in jaxpr.outvars if not isinstance(v, jcore.Literal)}
    for i in reversed(range(len(jaxpr.eqns))):
        needed_later[i + 1] = set(later)
        later |= {v for v in jaxpr.eqns[i].invars if not isinstance(v, jcore.Literal)}

    def close(end):
        if not run:
            return
        defined = {v for e in run for v in e.outvars}
        ins = list(
            dict.fromkeys(
                v
                for e in run
                for v in e.invars
                if not isinstance(v, jcore.Literal) and v not in defined
            )
        )
        outs = [
            v
            for v in dict.fromkeys(v for e in run for v in e.outvars)
            if v in needed_later[end] and not isinstance(v, jcore.DropVar)
        ]
        with warnings.catch_warnings():  # (a segment has no DebugInfo of its own)
            warnings.simplefilter("ignore", DeprecationWarning)
            sub = jcore.Jaxpr([], ins, outs, list(run), jcore.no_effects)
        parts.append((jax.jit(jcore.jaxpr_as_fun(jcore.ClosedJaxpr(sub, []))), ins, outs))
        run.clear()

    for i, eqn in enumerate(jaxpr.eqns):
        if _is_loop_eqn(eqn):
            close(i)
            parts.append(eqn)
        else:
            run.append(eqn)
    close(len(jaxpr.eqns))
    _SEGMENTS[id(jaxpr)] = (jaxpr, parts)
    return parts


def _eval(closed, args: Sequence, tally: Tally) -> list:
    """Evaluate ``closed`` (a jaxpr) on concrete ``args``, running its loops in Python."""
    closed = _closed(closed)
    env = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    env.update(zip(closed.jaxpr.constvars, closed.consts, strict=True))
    env.update(zip(closed.jaxpr.invars, args, strict=True))
    for part in _segments(closed.jaxpr):
        if isinstance(part, tuple):
            fn, ins, outs = part
            env.update(zip(outs, fn(*[env[v] for v in ins]), strict=True))
            continue
        out = _apply(part, [read(v) for v in part.invars], tally)
        if not part.primitive.multiple_results:
            out = [out]
        env.update(
            (var, val)
            for var, val in zip(part.outvars, out, strict=True)
            if not isinstance(var, jcore.DropVar)
        )
    return [read(v) for v in closed.jaxpr.outvars]


_COMPILED: dict[int, object] = {}


def _has_loops(jaxpr) -> bool:
    return any(e.primitive.name in _LOOPS for e in _walk(jaxpr))


def _runner(closed, tally: Tally):
    """``run(args) -> outputs`` of ``closed``: compiled when it holds no loop (nothing to
    count inside), else evaluated equation by equation."""
    if _has_loops(closed):
        return lambda args: _eval(closed, args, tally)
    if id(closed) not in _COMPILED:
        _COMPILED[id(closed)] = (closed, jax.jit(jcore.jaxpr_as_fun(_closed(closed))))
    fn = _COMPILED[id(closed)][1]
    return lambda args: fn(*args)


def _while(eqn, args, tally):
    p = eqn.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    cconsts, bconsts, carry = args[:cn], args[cn : cn + bn], list(args[cn + bn :])
    cond, body = _runner(p["cond_jaxpr"], tally), _runner(p["body_jaxpr"], tally)
    n = 0
    while bool(cond([*cconsts, *carry])[0]):
        carry = list(body([*bconsts, *carry]))
        n += 1
    tally.add(eqn, p["body_jaxpr"], n)
    return carry


def _scan_operands(params, args) -> tuple[list, list, list]:
    """``(consts, carry, xs)`` of a ``scan`` equation's operands: counted by ``num_consts``
    and ``num_carry`` (jax <= 0.10) or split by the ``ft_in`` flat tree (jax 0.12)."""
    if "num_consts" in params:
        nc, ncar = params["num_consts"], params["num_carry"]
        return list(args[:nc]), list(args[nc : nc + ncar]), list(args[nc + ncar :])
    consts, carry, xs = params["ft_in"].update(list(args)).unpack()
    return list(consts), list(carry), list(xs)


def _scan(eqn, args, tally):
    p = eqn.params
    length = p["length"]
    consts, carry, xs = _scan_operands(p, args)
    ncar = len(carry)
    ys = []
    body = _runner(p["jaxpr"], tally)
    for i in reversed(range(length)) if p["reverse"] else range(length):
        out = list(body([*consts, *carry, *(x[i] for x in xs)]))
        carry, y = out[:ncar], out[ncar:]
        ys.append(y)
    if p["reverse"]:
        ys.reverse()
    tally.add(eqn, p["jaxpr"], length)
    avals = [v.aval for v in eqn.outvars[ncar:]]
    stacked = [
        jnp.stack([y[j] for y in ys]) if ys else jnp.zeros(a.shape, a.dtype)
        for j, a in enumerate(avals)
    ]
    return [*carry, *stacked]


def _apply(eqn, args, tally):
    name, p = eqn.primitive.name, eqn.params
    if name == "while":
        return _while(eqn, args, tally)
    if name == "scan":
        return _scan(eqn, args, tally)
    if name == "cond":
        return _eval(p["branches"][int(args[0])], args[1:], tally)
    if name in _CALLS and _has_loops(p.get("jaxpr") or p.get("call_jaxpr")):
        return _eval(p.get("jaxpr") or p.get("call_jaxpr"), args, tally)
    return eqn.primitive.bind(*args, **p)


def _walk(jaxpr, into_loops: bool = True):
    """Every equation of ``jaxpr`` and its sub-jaxprs (not into loop bodies unless asked)."""
    for eqn in (jaxpr.jaxpr if isinstance(jaxpr, jcore.ClosedJaxpr) else jaxpr).eqns:
        yield eqn
        if eqn.primitive.name in _LOOPS and not into_loops:
            continue
        for sub in jcore.jaxprs_in_params(eqn.params):
            yield from _walk(sub, into_loops)


def has_foreign_calls(closed) -> bool:
    """Whether the computation calls foreign code (an XLA FFI custom call)."""
    return any(
        "ffi" in e.primitive.name or "custom_call" in e.primitive.name for e in _walk(closed)
    )


# ------------------------------------------------------------------- flops and bytes


def _cost(closed) -> tuple[float, float]:
    """``(flops, bytes accessed)`` of ``closed`` compiled alone (XLA's cost analysis)."""
    closed = _closed(closed)
    avals = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in closed.in_avals]
    c = jax.jit(jcore.jaxpr_as_fun(closed)).lower(*avals).compile().cost_analysis()
    c = c[0] if isinstance(c, list) else c
    return float(c.get("flops", 0.0)), float(c.get("bytes accessed", 0.0))


def total_cost(closed, tally: Tally) -> tuple[float, float]:
    """Flops and bytes with every loop body counted once per trip (see the module doc)."""
    flops, nbytes = _cost(closed)
    cache = {}

    def body_cost(body):
        if id(body) not in cache:
            cache[id(body)] = _cost(body)
        return cache[id(body)]

    for key, trips in tally.trips.items():
        body = tally.bodies[key]
        f, b = body_cost(body)
        for inner in _walk(body, into_loops=False):  # loops directly inside: their own
            if inner.primitive.name in _LOOPS:
                sub = inner.params.get("body_jaxpr") or inner.params["jaxpr"]
                f_in, b_in = body_cost(sub)
                f, b = f - f_in, b - b_in
        flops += max(trips - 1, 0) * max(f, 0.0)
        nbytes += max(trips - 1, 0) * max(b, 0.0)
    return flops, nbytes


# ----------------------------------------------------------------------- the estimate


def estimate_s(steps: int, flops: float, nbytes: float) -> tuple[float, float]:
    """``(low, high)`` seconds on an H100-class GPU under the stated assumptions."""
    memory, compute = nbytes / BANDWIDTH, flops / PEAK_FLOPS
    return steps * OVERHEAD_S[0] + max(memory, compute), steps * OVERHEAD_S[1] + memory + compute


def analyse(fn, *args) -> dict:
    """Count, cost and estimate ``fn(*args)`` (a function of arrays)."""
    closed = jax.make_jaxpr(fn)(*args)
    tally = Tally()
    t0 = time.perf_counter()
    _eval(closed, jax.tree.leaves(args), tally)
    count_s = time.perf_counter() - t0
    flops, nbytes = total_cost(closed, tally)
    low, high = estimate_s(tally.steps, flops, nbytes)
    loops = sorted(tally.trips.values(), reverse=True)
    return {
        "steps": tally.steps,
        "loops": loops,
        "flops": flops,
        "bytes": nbytes,
        "low_ms": 1e3 * low,
        "high_ms": 1e3 * high,
        "count_s": count_s,
    }


def pure_jax_backends(example) -> list[str]:
    """The available backends whose computation of ``example(backend)`` is all JAX."""
    names = []
    for name in available_backends():
        fn, args = example(name)
        if not has_foreign_calls(jax.make_jaxpr(fn)(*args)):
            names.append(name)
    return names


def layer_cases(images, hidden: int) -> dict:
    """``{layer: make(backend) -> (fn, args)}``: forward + backward of each MNIST layer."""
    cases = {}
    for layer, (x, w, theta, bound, _) in layer_inputs(images, hidden).items():

        def make(backend, x=x, w=w, theta=theta, bound=bound):
            params = snnjax.LIFParams(tau_syn=0.13, theta=theta)

            def loss(w, t):
                out = snnjax.lif_layer(
                    t, w, params, max_spikes=30, t_max=0.2, max_input_events=bound, backend=backend
                )
                return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times, 0.0))

            return jax.value_and_grad(loss, argnums=(0, 1)), (w, x)

        cases[f"{layer} (bound {bound})"] = make
    return cases


def train_case(args):
    """``make(backend) -> (fn, args)``: one ``mnist_multispike`` train step."""
    ns = argparse.Namespace(batch_size=args.batch_size, data_dir=args.data_dir)
    overrides = [f"sizes=784,{args.hidden},10", "train_subset=200", "test_subset=10"]

    def make(backend):
        s = setup("mnist_multispike", ns, ("snn",), backend, overrides + ["n_validation=10"])
        idx = np.arange(args.batch_size)
        step = s["snn_step"]
        return step, (s["snn_state"], s["times"][idx], s["labels"][idx])

    return make


def markdown_table(rows) -> list[str]:
    out = [
        "| backend | computation | sequential steps (loop trips) | goal ≤ 50 per layer "
        "| flops | bytes | estimate on an H100-class GPU |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        n_layers = 2 if r["what"].startswith("train step") else 1
        goal = (
            "met"
            if r["steps"] <= GOAL_STEPS * n_layers
            else f"**{r['steps'] / n_layers:,.0f}** per layer"
        )
        loops = " + ".join(f"{n:,}" for n in r["loops"][:6]) + (
            " + …" if len(r["loops"]) > 6 else ""
        )
        out.append(
            f"| `{r['backend']}` | {r['what']} | {r['steps']:,} ({loops}) | {goal} "
            f"| {r['flops'] / 1e9:.2f} G | {r['bytes'] / 1e6:,.0f} MB "
            f"| {r['low_ms']:.1f}–{r['high_ms']:.1f} ms |"
        )
    return out


def notes() -> list[str]:
    return [
        "**ESTIMATE, not a measurement.** Assumptions: "
        f"{OVERHEAD_S[0] * 1e6:g}–{OVERHEAD_S[1] * 1e6:g} µs per loop trip, "
        f"{BANDWIDTH / 1e12:g} TB/s, {PEAK_FLOPS / 1e12:g} TFLOP/s; low = steps × "
        f"{OVERHEAD_S[0] * 1e6:g} µs + max(bytes / bandwidth, flops / peak), high = steps × "
        f"{OVERHEAD_S[1] * 1e6:g} µs + bytes / bandwidth + flops / peak. Steps: the trips of "
        "every `while_loop` and `scan`, counted on real digits by running the jaxpr loop by "
        "loop (forward and backward); flops and bytes: XLA's `cost_analysis()` on the CPU, "
        "each loop body counted once per trip; the cost analysis counts the whole buffer of "
        "an in-place update (the spike record, the gradient accumulators) as accessed on "
        "every trip, so the bytes are an upper bound. The train step's goal is 50 steps "
        "for each of its 2 layers.",
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=800)
    ap.add_argument("--backends", default=None, help="comma-separated (default: the JAX ones)")
    ap.add_argument("--no-train-step", action="store_true", help="the layers only")
    ap.add_argument("--markdown", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    command = command_line()
    images = load_digits(args.data_dir, args.batch_size)
    cases = layer_cases(images, args.hidden)
    if not args.no_train_step:
        cases[f"train step (784-{args.hidden}-10, batch {args.batch_size})"] = train_case(args)
    first = next(iter(cases.values()))
    backends = args.backends.split(",") if args.backends else pure_jax_backends(first)
    rows = []
    for backend in backends:
        for what, make in cases.items():
            fn, fargs = make(backend)
            rows.append({"backend": backend, "what": what, **analyse(fn, *fargs)})
            print(rows[-1], flush=True)
    table = markdown_table(rows)
    print("\n".join(table + [""] + notes()))
    if args.markdown:
        write_markdown(args.markdown, machine_line(command), table, notes())
    return rows


if __name__ == "__main__":
    main()
