"""Shared helpers of the benchmark scripts: peak memory, machine line, Markdown output.

Memory is reported two ways, for snnjax and the dense yardstick alike:

* ``xla_*_bytes``: XLA's own accounting of the compiled step
  (``jitted.lower(...).compile().memory_analysis()``): ``temp`` (scratch buffers of the
  step), ``argument`` and ``output`` (parameters, optimizer state, batch, results);
  ``xla_peak_bytes = temp + argument + output - alias`` (aliased = donated buffers counted
  once) is the device-side peak of one step, meaningful on CPU and GPU.
* ``max_rss_bytes``: the high-water mark of the resident memory (``resource.getrusage``)
  of a fresh process that loads the data and runs only that model; and, because that
  includes jax itself and the dataset, ``steps_rss_bytes``: the peak resident memory
  *during* compilation and steps (Linux: the peak is reset through ``/proc/self/clear_refs``
  before them and read from ``VmHWM`` after) minus the resident memory just before them.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time

import jax

__all__ = [
    "xla_memory",
    "max_rss_bytes",
    "measure_steps_rss",
    "rss_cell",
    "machine_line",
    "command_line",
    "fmt_bytes",
    "run_child",
    "write_markdown",
]


def xla_memory(jitted, *args) -> dict[str, int]:
    """XLA's memory analysis of ``jitted(*args)`` (compiled for these argument shapes).

    Returns:
      ``{"xla_temp_bytes", "xla_argument_bytes", "xla_output_bytes", "xla_alias_bytes",
      "xla_peak_bytes"}`` (bytes); empty if the backend gives no analysis.
    """
    stats = jitted.lower(*args).compile().memory_analysis()
    if stats is None:
        return {}
    temp = int(stats.temp_size_in_bytes)
    arg = int(stats.argument_size_in_bytes)
    out = int(stats.output_size_in_bytes)
    alias = int(stats.alias_size_in_bytes)
    return {
        "xla_temp_bytes": temp,
        "xla_argument_bytes": arg,
        "xla_output_bytes": out,
        "xla_alias_bytes": alias,
        "xla_peak_bytes": temp + arg + out - alias,
    }


def max_rss_bytes() -> int:
    """High-water mark of this process's resident set size (bytes; Linux reports KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def measure_steps_rss(fn) -> dict[str, int | None]:
    """Run ``fn()`` and return ``{"rss_before_steps_bytes", "steps_peak_rss_bytes",
    "steps_rss_bytes", "max_rss_bytes"}``: resident memory before, its peak during ``fn``
    (``None`` where the peak cannot be reset, i.e. not Linux), their difference, and the
    process's high-water mark after ``fn``."""
    before = _status_bytes("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
        resettable = True
    except OSError:
        resettable = False
    fn()
    peak = _status_bytes("VmHWM") if resettable else None
    return {
        "rss_before_steps_bytes": before,
        "steps_peak_rss_bytes": peak,
        "steps_rss_bytes": None if peak is None or before is None else peak - before,
        "max_rss_bytes": max_rss_bytes(),
    }


def rss_cell(c: dict | None) -> str:
    """``max RSS (+ steps)`` table cell of a :func:`measure_steps_rss` result."""
    if not c:
        return "not measured"
    steps = c.get("steps_rss_bytes")
    return f"{fmt_bytes(c['max_rss_bytes'])} (+{fmt_bytes(steps)})"


def fmt_bytes(n: float | None) -> str:
    """``1.5 MiB`` style."""
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(command: str) -> str:
    """One line saying where, when and how a table was measured."""
    dev = jax.devices()[0]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if dev.platform == "cpu":
        where = f"CPU {_cpu_model()}, {cores} cores"
    else:
        where = f"{dev.platform.upper()} {dev.device_kind} (host: {cores} cores)"
    load = os.getloadavg()[0]
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {where}, jax {jax.__version__}, "
        f"load average {load:.1f} at the end; command: `{command}`"
    )


def command_line() -> str:
    """The command that ran this script, for the Markdown header
    (``python -m benchmarks.X ...`` or ``python benchmarks/X.py ...``, as it was run)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # run with python -m
        script = ["-m", spec.name]
    else:
        script = [os.path.relpath(sys.argv[0]) if sys.argv else "?"]
    prefix = "".join(
        f"{name}={os.environ[name]} "
        for name in ("SNNJAX_KERNEL", "OMP_NUM_THREADS")
        if os.environ.get(name)
    )
    return prefix + "python " + " ".join(shlex.quote(w) for w in [*script, *sys.argv[1:]])


def run_child(argv: list[str], timeout: float = 1800) -> dict:
    """Run ``python <argv>`` in a fresh process (same environment) and parse the JSON
    object on the last line of its stdout."""
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_markdown(path: str, header: str, table: list[str], notes: list[str] = ()) -> None:
    """Write a Markdown fragment: the machine/date/command line, a table, optional notes."""
    lines = [header, "", *table]
    if notes:
        lines += ["", *notes]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
