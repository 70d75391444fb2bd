"""Benchmark: the wall time of ``snnjax tradeoffs RUN`` with its defaults, as a user runs it.

Runs the command in a fresh process (start-up, loading the checkpoint and the data, the
evaluation, the three robustness sweeps, the plots: everything a user waits for) and reads
the time of each phase from its progress messages. Issue 14's goal: one MNIST run reports in
at most 3 minutes on the 2-core CPU with the default sweep (the full one took 15.5 minutes).

    python -m benchmarks.bench_report --run runs/mnist_multispike-seed0
    python -m benchmarks.bench_report --run runs/mnist_multispike-seed0 --full --markdown FILE
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks.benchutil import command_line, machine_line, write_markdown

# Progress messages of snnjax tradeoffs that end a phase, and the phase each one ends.
_PHASES = (
    (re.compile(r"robustness sweeps on (\d+) samples"), "load + evaluate"),
    (re.compile(r": input_jitter sweep ([\d.]+) s"), "input jitter sweep"),
    (re.compile(r": input_deletion sweep ([\d.]+) s"), "input deletion sweep"),
    (re.compile(r": weight_noise sweep ([\d.]+) s"), "weight noise sweep"),
)


def time_report(run: str, extra: list[str]) -> dict:
    """Run ``snnjax tradeoffs RUN --out TMP EXTRA`` once; wall time and per-phase times (s)."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "snnjax", "tradeoffs", run, "--out", tmp, *extra]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        phases: dict[str, float] = {}
        last = t0
        for line in proc.stderr:
            now = time.perf_counter()
            for pattern, phase in _PHASES:
                if pattern.search(line):
                    phases[phase] = now - last
                    last = now
        proc.wait()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed with exit code {proc.returncode}")
    phases["plots + report"] = wall - (last - t0)
    return {"wall_s": wall, "phases": phases}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a trained run directory")
    parser.add_argument("--full", action="store_true", help="time `--full` as well")
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    args = parser.parse_args(argv)
    modes = [("default (2000 samples x 5 seeds)", [])]
    if args.full:
        modes.append(("--full (all samples x 20 seeds)", ["--full"]))
    rows = []
    for label, extra in modes:
        res = time_report(args.run, extra)
        phases = ", ".join(f"{k} {v:.0f} s" for k, v in res["phases"].items())
        rows.append(f"| {label} | {res['wall_s']:.0f} s | {phases} |")
        print(rows[-1], flush=True)
    table = ["| `snnjax tradeoffs` | wall time | phases |", "| --- | ---: | --- |", *rows]
    header = machine_line(command_line()) + f"; run: `{os.path.normpath(args.run)}`"
    if args.markdown:
        write_markdown(args.markdown, header, table)
    print(header)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
