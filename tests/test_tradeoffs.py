"""Tests of the trade-off report (snnjax.reports.tradeoffs, ``snnjax tradeoffs``)."""

from __future__ import annotations

import csv
import json

import jax
import numpy as np
import pytest

from snnjax.cli import main
from snnjax.configs import get_config
from snnjax.nn import make_dense_network
from snnjax.readouts import get_readout
from snnjax.reports import _format, _tradeoff_measure
from snnjax.reports.tradeoffs import (
    LoadedRun,
    TradeoffMeasurements,
    load_runs,
    measure_tradeoffs,
    seed_groups,
    tradeoff_report,
    write_tradeoff_report,
)
from snnjax.train import evaluate_run, train

TINY = ["sizes=5,8,3", "epochs=2", "train_subset=200", "n_validation=100", "test_subset=100"]

SECTIONS = (
    "## Performance",
    "## Sparsity / energy",
    "## Latency",
    "## Accuracy vs deadline",
    "## Robustness: input jitter",
    "## Robustness: input deletion",
    "## Robustness: weight noise",
    "## Convergence",
    "## Plots",
)


def _silent(_msg: str) -> None:
    pass


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for name in ("yinyang_multispike", "yinyang_ttfs"):
        out = root / name
        train(get_config(name, TINY), out, quiet=True, progress=False, log=_silent)
        runs.append(out)
    return runs


@pytest.fixture(scope="module")
def report(two_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    # the whole (100-sample) test split of the tiny runs
    tables = tradeoff_report(two_runs, out, n_samples=100, noise_seeds=2, command="test")
    return out, tables


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_report_md_has_runs_and_sections(report, two_runs):
    out, _ = report
    text = (out / "report.md").read_text()
    for run in two_runs:
        assert run.name in text
    for section in SECTIONS:
        assert section in text
    assert "Command: `test`" in text
    assert "`test` split" in text
    assert "100" in text


def test_table_csvs_have_one_column_per_run(report, two_runs):
    out, tables = report
    names = [r.name for r in two_runs]
    for tname in ("performance", "sparsity", "latency", "convergence", "accuracy_vs_deadline"):
        rows = _csv(out / f"table_{tname}.csv")
        assert rows[0][1:] == names
        assert len(rows) == len(tables[tname]) + 1
        assert all(len(r) == len(names) + 1 for r in rows)
    for kind, first in (
        ("input_jitter", "sigma_ms"),
        ("input_deletion", "p"),
        ("weight_noise", "relative_sigma"),
    ):
        rows = _csv(out / f"table_robustness_{kind}.csv")
        assert rows[0] == [first, names[0], f"{names[0]} std", names[1], f"{names[1]} std"]
        assert [r[0] for r in rows[1:7]] == (
            ["0", "1", "2", "5", "10", "20"]
            if kind == "input_jitter"
            else ["0", "0.05", "0.1", "0.2", "0.3", "0.5"]
        )
        # level 0 is the clean network: its accuracy, with zero spread
        for i, name in enumerate(names):
            assert float(rows[1][1 + 2 * i]) == pytest.approx(
                tables["performance"]["accuracy"][name]
            )
            assert float(rows[1][2 + 2 * i]) == pytest.approx(0.0, abs=1e-9)
            assert float(rows[1][2 + 2 * i]) == 0.0  # exactly: every seed is the clean net
    conv = tables["convergence"]
    assert set(conv["epochs trained"].values()) == {2}
    for row in (
        "epochs to 90% of final validation accuracy",
        "epochs to 95% of final validation accuracy",
    ):
        assert all(v in (1.0, 2.0) for v in conv[row].values())


def test_plots_are_written(report, two_runs):
    out, _ = report
    for name in (
        "accuracy_vs_spikes",
        "accuracy_vs_synops",
        "accuracy_vs_deadline",
        "decision_times",
        "accuracy_vs_input_jitter",
        "accuracy_vs_input_deletion",
        "accuracy_vs_weight_noise",
        "training_curves",
    ):
        assert (out / f"plot_{name}.png").stat().st_size > 1000
        rows = _csv(out / f"plot_{name}.csv")
        assert len(rows) > 1
    for run in two_runs:
        assert (out / f"plot_raster_{run.name}.png").stat().st_size > 1000
        rows = _csv(out / f"plot_raster_{run.name}.csv")
        assert rows[0] == ["layer", "neuron", "time_s"]
        layers = {r[0] for r in rows[1:]}  # the training's layer names, as in the tables
        assert "input" in layers
        assert layers <= {"input", "hidden1", "output"}


def test_accuracy_and_spikes_equal_snnjax_eval(two_runs, report):
    # whole (100-sample) test split, best checkpoint: the same numbers as `snnjax eval`
    _, tables = report
    for run in two_runs:
        ev = evaluate_run(run, checkpoint="best", split="test")
        assert ev["n"] == 100
        assert tables["performance"]["accuracy"][run.name] == pytest.approx(ev["accuracy"])
        for layer, v in ev["spikes_per_sample"].items():
            assert tables["sparsity"][f"spikes per sample: {layer}"][run.name] == pytest.approx(
                v, rel=1e-5
            )
    perf = tables["performance"]
    assert perf["loss / readout"] == {
        two_runs[0].name: "count_ce / count_ce",
        two_runs[1].name: "ttfs / ttfs",
    }


def test_cli_tradeoffs(two_runs, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(
        [
            "tradeoffs",
            *map(str, two_runs),
            "--out",
            str(out),
            "--n-samples",
            "20",
            "--noise-seeds",
            "1",
        ]
    )
    assert rc == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out
    # the summary once: stdout has the results, stderr only progress
    both = captured.out + captured.err
    for run in two_runs:
        assert both.count(f"{run.name}: accuracy") == 1, both
    assert both.count("report.md") == 1, both
    text = (out / "report.md").read_text()
    assert "snnjax tradeoffs" in text
    assert "--n-samples 20" in text


def test_missing_or_invalid_run_dir(tmp_path, two_runs, capsys):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tradeoff_report([tmp_path / "nope"], tmp_path / "r")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a snnjax run directory"):
        tradeoff_report([tmp_path / "empty"], tmp_path / "r")
    bad = tmp_path / "bad"
    (bad / "checkpoints").mkdir(parents=True)
    (bad / "config.json").write_text(json.dumps({"no_such_field": 1}))
    with pytest.raises(ValueError, match="not a valid snnjax config"):
        tradeoff_report([bad], tmp_path / "r")
    with pytest.raises(ValueError, match="at least one"):
        tradeoff_report([], tmp_path / "r")
    rc = main(["tradeoffs", str(two_runs[0]), str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_seed_groups_label_the_differing_fields():
    a0 = get_config("yinyang_ttfs", ["seed=0", "thetas=0.2,0.3"])
    a1 = get_config("yinyang_ttfs", ["seed=1", "thetas=0.2,0.3"])
    b = get_config("yinyang_ttfs", ["seed=0", "thetas=0.4,0.3"])
    m = get_config("yinyang_multispike")
    groups = seed_groups([a0, m, a1, b], ["a0", "m", "a1", "b"])
    assert groups == {
        "yinyang_ttfs (thetas=0.2,0.3)": ["a0", "a1"],
        "yinyang_multispike": ["m"],
        "yinyang_ttfs (thetas=0.4,0.3)": ["b"],
    }


def test_report_across_training_seeds(two_runs, tmp_path):
    # a second seed of the multi-spike run: the report groups the two and gives mean ± std
    extra = tmp_path / "yinyang_multispike-seed1"
    train(
        get_config("yinyang_multispike", [*TINY, "seed=1"]),
        extra,
        quiet=True,
        progress=False,
        log=_silent,
    )
    runs = [two_runs[0], extra, two_runs[1]]
    out = tmp_path / "report"
    tables = tradeoff_report(runs, out, n_samples=50, noise_seeds=2, command="test")
    names = [two_runs[0].name, extra.name, two_runs[1].name]
    acc = tables["performance"]["accuracy"]
    seeds, std, n = tables["seeds"], tables["seeds_std"], tables["seeds_n"]
    assert list(seeds["accuracy"]) == ["yinyang_multispike", "yinyang_ttfs"]
    assert seeds["accuracy"]["yinyang_multispike"] == pytest.approx(
        (acc[names[0]] + acc[names[1]]) / 2
    )
    assert std["accuracy"]["yinyang_multispike"] == pytest.approx(
        abs(acc[names[0]] - acc[names[1]]) / 2**0.5
    )
    assert n["accuracy"] == {"yinyang_multispike": 2, "yinyang_ttfs": 1}
    assert seeds["accuracy"]["yinyang_ttfs"] == pytest.approx(acc[names[2]])
    assert std["accuracy"]["yinyang_ttfs"] == 0.0
    # level 0 of every noise = the clean accuracy
    assert seeds["input_jitter 0"]["yinyang_multispike"] == pytest.approx(
        seeds["accuracy"]["yinyang_multispike"]
    )
    assert "validation accuracy after epoch 2" in seeds
    # the common convergence target: 95 % of the lowest best validation accuracy
    conv = tables["convergence"]
    target = 0.95 * min(conv["best validation accuracy"].values())
    (row,) = [r for r in conv if r.endswith("(common target)")]
    assert row in seeds
    for run in runs:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        first = min(r["epoch"] for r in rows if r["validation_accuracy"] >= target)
        assert conv[row][run.name] == first
    text = (out / "report.md").read_text()
    assert "## Across training seeds" in text
    assert "(n=2)" in text
    rows = _csv(out / "table_seeds.csv")
    assert rows[0][:4] == [
        "measure",
        "yinyang_multispike mean",
        "yinyang_multispike std",
        "yinyang_multispike n",
    ]
    for name in (
        "seeds_accuracy_vs_input_jitter",
        "seeds_accuracy_vs_weight_noise",
        "seeds_validation_curves",
    ):
        assert (out / f"plot_{name}.png").stat().st_size > 1000
    assert _csv(out / "table_seed_groups.csv")[1][1] == f"{names[0]} {names[1]}"


def test_scatter_plots_name_the_readouts(report, two_runs):
    # without seed groups the points are coloured by readout: the legend shows its label
    out, _ = report
    for name in ("accuracy_vs_spikes", "accuracy_vs_synops"):
        rows = _csv(out / f"plot_{name}.csv")
        assert {r[0]: r[1] for r in rows[1:]} == {
            two_runs[0].name: get_readout("count_ce").label,  # 'multi-spike (count cross-entropy)'
            two_runs[1].name: get_readout("ttfs").label,
        }


def test_measuring_writes_nothing_and_writing_makes_the_report(two_runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = {p: p.stat().st_mtime_ns for run in two_runs for p in run.rglob("*")}
    runs = load_runs(two_runs, n_samples=20, checkpoint="last")
    assert [r.name for r in runs] == [r.name for r in two_runs]
    assert {(r.split, r.checkpoint) for r in runs} == {("test", "last")}
    m = measure_tradeoffs(runs, noise_seeds=1)
    assert isinstance(m, TradeoffMeasurements)
    assert list(tmp_path.iterdir()) == []
    assert {p: p.stat().st_mtime_ns for run in two_runs for p in run.rglob("*")} == before
    assert m.names == [r.name for r in two_runs]
    assert not m.with_seeds
    assert list(m.tables)[:3] == ["performance", "sparsity", "latency"]
    assert m.tables["performance"]["samples evaluated"] == dict.fromkeys(m.names, 20)
    assert m.deadlines.shape == (41,)
    assert m.deadline_accuracy[m.names[0]].shape == (41,)
    res = m.noise["input_jitter"][m.names[1]]
    assert res.per_seed.shape == (6, 1)
    assert m.tables["robustness_input_jitter"]["0"][m.names[1]] == pytest.approx(
        m.tables["performance"]["accuracy"][m.names[1]]
    )
    path = write_tradeoff_report(m, tmp_path / "out", command="measured")
    text = path.read_text()
    assert path == tmp_path / "out" / "report.md"
    assert "Command: `measured`" in text
    assert "checkpoint: `last`" in text
    for section in SECTIONS:
        assert section in text
    with pytest.raises(ValueError, match="unique"):
        measure_tradeoffs([runs[0], runs[0]])
    with pytest.raises(ValueError, match="noise_seeds"):
        measure_tradeoffs(runs, noise_seeds=0)


# ------------------------------------------------------------- a std of exactly zero


def test_equal_values_have_exactly_zero_std():
    # np.std of 20 equal accuracies of 0.54 is 2.2e-16, which printed as '2.22e-16'
    assert np.full(20, 0.54).std() != 0.0
    assert _format.exact_std(np.full(20, 0.54)) == 0.0
    per_seed = np.array([[0.54] * 20, [0.5, 0.6] * 10])
    assert _format.exact_std(per_seed, axis=1).tolist() == [0.0, pytest.approx(0.05)]
    assert _format.exact_std([0.7], ddof=1) == 0.0
    # over training seeds (sample std)
    assert np.full(3, 0.7).std(ddof=1) != 0.0
    mean, std, n = _format.mean_std([0.7, 0.7, 0.7, None, float("nan")])
    assert np.full(3, 0.7).mean() != 0.7
    assert (mean, std, n) == (0.7, 0.0, 3)
    assert _format.exact_mean(per_seed, axis=1).tolist() == [0.54, pytest.approx(0.55)]
    assert _format.plus_minus(mean, std, n) == "0.7 ± 0 (n=3)"
    assert _format.markdown_table(
        {"0": {"a": _format.exact_std(np.full(20, 0.54))}}, ["a"], "sigma"
    ).endswith("| 0 | 0 |")


def test_robustness_std_at_level_zero_is_exactly_zero():
    # a real sweep whose clean accuracy is 27/50 = 0.54 over 20 noise seeds (the default)
    net = make_dense_network(
        sizes=(4, 8, 3), thetas=(0.2, 0.2), max_spikes=(3, 3), init=("uniform", 1.0, 3.0)
    )
    x = jax.random.uniform(jax.random.key(1), (50, 4, 1), minval=0.0, maxval=0.05)
    params = net.init(jax.random.key(0), x)
    pred = np.asarray(get_readout("count").predict(net.apply(params, x).times)[0])
    assert (pred >= 0).sum() >= 27
    labels = np.where(pred >= 0, (pred + 1) % 3, 0)
    labels[np.flatnonzero(pred >= 0)[:27]] = pred[pred >= 0][:27]
    run = LoadedRun(
        name="net",
        run_dir=None,
        config=None,
        model=net,
        params=params["params"],
        epoch=1,
        readout="count",
        input_times=np.asarray(x),
        labels=labels,
        metrics=[],
        results={},
    )
    noise = _tradeoff_measure.Noise("input_jitter", (0.0, 0.002), "sigma", 1e3)
    (res,) = _tradeoff_measure.robustness_sweeps(run, [noise], 20, 0, print).values()
    assert res.per_seed[0].tolist() == [0.54] * 20
    # what snnjax.analysis.robustness_sweep's std and mean give (printed '2.22e-16' before)
    assert res.per_seed[0].std() > 0
    assert res.per_seed[0].mean() != 0.54
    assert res.mean[0] == 0.54
    assert res.std[0] == 0.0
    mean, std = _tradeoff_measure.robustness_rows(noise, res)
    assert mean["0"] == 0.54
    assert std["0"] == 0.0


# ------------------------------------------------------ the default sweep size (issue 14)


def test_robustness_sweeps_perturb_a_prefix_and_the_report_says_so(two_runs, tmp_path):
    runs = load_runs(two_runs, n_samples=60)
    m = measure_tradeoffs(runs, noise_seeds=2, robustness_samples=25)
    assert m.robustness_samples == dict.fromkeys(m.names, 25)
    assert m.tables["performance"]["samples evaluated"] == dict.fromkeys(m.names, 60)
    # The sweeps equal sweeps of runs loaded with only those 25 samples.
    prefix = measure_tradeoffs(load_runs(two_runs, n_samples=25), noise_seeds=2)
    for kind in ("input_jitter", "input_deletion", "weight_noise"):
        for name in m.names:
            np.testing.assert_array_equal(
                m.noise[kind][name].per_seed, prefix.noise[kind][name].per_seed
            )
    text = write_tradeoff_report(m, tmp_path / "out", command="c").read_text()
    assert "Robustness sweeps: the first 25 samples of the split, 2 noise seeds" in text
    assert "±6.0 points" in text  # 100 * sqrt(0.09 / 25)
    with pytest.raises(ValueError, match="robustness_samples"):
        measure_tradeoffs(runs, robustness_samples=0)


def test_a_failed_report_leaves_no_output_directory(two_runs, tmp_path):
    out = tmp_path / "report"
    code = main(["tradeoffs", str(two_runs[0]), str(tmp_path / "no_such_run"), "--out", str(out)])
    assert code == 2
    assert not out.exists()


def test_cli_sweep_size_flags(two_runs, tmp_path, monkeypatch):
    from snnjax.reports import tradeoffs

    seen = {}

    def fake_report(run_dirs, out_dir, **kwargs):
        seen.update(kwargs)
        return {"performance": {"accuracy": {}}}

    monkeypatch.setattr(tradeoffs, "tradeoff_report", fake_report)
    base = ["tradeoffs", str(two_runs[0]), "--out", str(tmp_path / "r"), "--quiet"]
    assert main(base) == 0
    assert (seen["noise_seeds"], seen["robustness_samples"]) == (5, 2000)
    assert main([*base, "--full"]) == 0
    assert (seen["noise_seeds"], seen["robustness_samples"]) == (20, None)
    assert main([*base, "--full", "--noise-seeds", "3"]) == 0
    assert (seen["noise_seeds"], seen["robustness_samples"]) == (3, None)
    assert main([*base, "--robustness-samples", "7"]) == 0
    assert (seen["noise_seeds"], seen["robustness_samples"]) == (5, 7)
