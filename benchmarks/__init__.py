"""Benchmarks of snnjax side by side with an equal-size dense network; they write the
``docs/generated/bench_*.md`` tables quoted in ``docs/performance.md``.

Run from the repository root as modules (``python benchmarks/<name>.py`` works too)::

    python -m benchmarks.bench_layer --data-dir ../shared/data/mnist
    python -m benchmarks.bench_train --configs yinyang_ttfs
    python -m benchmarks.bench_parallel --devices 2
    python -m benchmarks.bench_robustness --checkpoint runs/mnist_multispike-seed0
    python -m benchmarks.bench_vmap --data-dir ../shared/data/mnist

Each script takes ``--help``; ``benchutil`` holds their shared helpers (peak memory, the
machine/command line, Markdown output).
"""
