"""Tests of snnjax.data.augment (elastic distortions) and of the training augmentation hook:
seeded and deterministic, range and identity kept, a smooth small displacement (property
tests), the spike-time path equal to distorting the raw images, the train step's hook
(alpha = 0 is the plain step; the run's seed and the optimizer step key the stream), and
resume reproducing an uninterrupted augmented run bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import shared_data_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from snnjax.configs import CONFIGS, ConfigError, config_to_dict, get_config, parse_override
from snnjax.data import batches, load_dataset
from snnjax.data.augment import (
    augmentation_key,
    elastic_deform,
    elastic_deform_spike_times,
    elastic_displacement,
    gaussian_kernel1d,
    warp_bilinear,
)
from snnjax.encoding import latency_encode
from snnjax.train import (
    DataSplits,
    RunCheckpoints,
    SpikeDataset,
    TrainState,
    build_model,
    init_params,
    input_event_bound,
    make_input_augmentation,
    make_optimizer,
    make_train_step,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = shared_data_dir() / "mnist"

# jitted once per (shape, sigma): sigma sets the kernel size, alpha is traced.
_displacement = jax.jit(elastic_displacement, static_argnames=("shape", "sigma"))
_deform = jax.jit(elastic_deform, static_argnames=("sigma",))
_warp = jax.jit(warp_bilinear)


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    """``[n, 28, 28]`` uint8 images: a random bright rectangle with random intensities."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for k in range(n):
        i, j = rng.integers(4, 14, size=2)
        h, w = rng.integers(4, 12, size=2)
        images[k, i : i + h, j : j + w] = rng.integers(1, 256, size=(h, w))
    return images


# ------------------------------------------------------------------- the kernel


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0, 4.5])
def test_gaussian_kernel_normalised_symmetric(sigma):
    k = gaussian_kernel1d(sigma)
    assert k.dtype == np.float32
    assert k.size == 2 * int(np.ceil(4 * sigma)) + 1
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(k, k[::-1])
    if sigma >= 1:  # the discrete peak approaches the continuous 1 / (sqrt(2 pi) sigma)
        assert k.max() == pytest.approx(1 / (np.sqrt(2 * np.pi) * sigma), rel=0.01)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gaussian_kernel1d(0.0), "sigma must be a positive"),
        (lambda: gaussian_kernel1d(float("nan")), "sigma must be a positive"),
        (
            lambda: elastic_deform(np.zeros((1, 4, 4)), jax.random.key(0), alpha=-1, sigma=1.0),
            "alpha",
        ),
        (
            lambda: elastic_deform(np.zeros((4, 4)), jax.random.key(0), alpha=1, sigma=1.0),
            "images must be",
        ),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_traced_sigma_is_refused():
    with pytest.raises(TypeError, match="sigma must be a Python number"):
        jax.jit(lambda s: elastic_displacement(jax.random.key(0), (4, 4), alpha=1.0, sigma=s))(1.0)


# ------------------------------------------------------------- seeds and identity


def test_deterministic_from_key_and_keys_differ():
    images = _blobs(6)
    a = _deform(images, jax.random.key(7), alpha=9.0, sigma=3.0)
    b = _deform(images, jax.random.key(7), alpha=9.0, sigma=3.0)
    c = _deform(images, jax.random.key(8), alpha=9.0, sigma=3.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, images)
    # one field per image: the same image twice in a batch is distorted differently
    same = _deform(np.stack([images[0], images[0]]), jax.random.key(7), alpha=9.0, sigma=3.0)
    assert not np.array_equal(same[0], same[1])
    # eager equals jitted
    np.testing.assert_array_equal(
        elastic_deform(images, jax.random.key(7), alpha=9.0, sigma=3.0), a
    )


def test_alpha_zero_is_the_identity():
    images = _blobs(4)
    np.testing.assert_array_equal(_deform(images, jax.random.key(1), alpha=0.0, sigma=3.0), images)
    floats = images.astype(np.float32) / 255.0
    np.testing.assert_array_equal(_deform(floats, jax.random.key(1), alpha=0.0, sigma=3.0), floats)
    d = _displacement(jax.random.key(1), (28, 28), alpha=0.0, sigma=3.0)
    assert not np.any(d)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    alpha=st.floats(0.0, 20.0),
    channels=st.sampled_from([0, 2]),
)
def test_pixel_range_and_dtype_kept(seed, alpha, channels):
    sigma = 2.0
    rng = np.random.default_rng(seed)
    shape = (3, 12, 10) + ((channels,) if channels else ())
    floats = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    out = np.asarray(_deform(floats, jax.random.key(seed), alpha=alpha, sigma=sigma))
    assert out.shape == floats.shape
    assert out.dtype == np.float32
    assert out.min() >= 0.0
    assert out.max() <= floats.max()
    ints = rng.integers(0, 256, size=shape).astype(np.uint8)
    out = np.asarray(_deform(ints, jax.random.key(seed), alpha=alpha, sigma=sigma))
    assert out.dtype == np.uint8
    assert out.max() <= ints.max()


# ---------------------------------------------------- a smooth small displacement


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    alpha=st.floats(0.0, 40.0),
    sigma=st.sampled_from([1.0, 2.0, 3.0, 4.0]),
)
def test_displacement_is_bounded_and_smooth(seed, alpha, sigma):
    """|d| <= alpha; neighbouring pixels differ by at most alpha * TV(g) = 2 alpha max(g)
    (the total variation of the unimodal kernel), about 0.8 alpha / sigma."""
    d = np.asarray(_displacement(jax.random.key(seed), (28, 28), alpha=alpha, sigma=sigma))
    assert d.shape == (2, 28, 28)
    assert d.dtype == np.float32
    tol = 1e-5 * max(alpha, 1.0)
    assert np.abs(d).max() <= alpha + tol
    k = gaussian_kernel1d(sigma).astype(np.float64)
    tv = np.abs(np.diff(np.concatenate([[0.0], k, [0.0]]))).sum()
    assert tv == pytest.approx(2 * k.max(), rel=1e-6)
    for axis in (1, 2):
        assert np.abs(np.diff(d, axis=axis)).max() <= alpha * tv + tol
    assert alpha * tv <= 0.85 * alpha / sigma + tol


def test_displacement_scale_follows_alpha_over_sigma():
    """Smoothed U(-1, 1) noise has std ~ alpha / (sqrt(3) * 2 sqrt(pi) sigma) (a 2-D
    Gaussian's squared weights sum to 1 / (4 pi sigma^2))."""
    keys = jax.random.split(jax.random.key(0), 64)
    for alpha, sigma in ((9.0, 3.0), (34.0, 4.0)):
        d = np.stack(
            [np.asarray(_displacement(k, (28, 28), alpha=alpha, sigma=sigma)) for k in keys]
        )
        expected = alpha / (np.sqrt(3.0) * 2.0 * np.sqrt(np.pi) * sigma)
        assert d.std() == pytest.approx(expected, rel=0.1)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    dy=st.integers(-6, 6),
    dx=st.integers(-6, 6),
    channels=st.sampled_from([0, 3]),
)
def test_constant_field_translates(seed, dy, dx, channels):
    """A constant integer displacement (dy, dx) reads pixel (i + dy, j + dx): the content
    moves by (-dy, -dx), zeros come in at the edge."""
    rng = np.random.default_rng(seed)
    shape = (9, 11) + ((channels,) if channels else ())
    img = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    field = np.stack([np.full((9, 11), dy, np.float32), np.full((9, 11), dx, np.float32)])
    out = np.asarray(_warp(img, field))
    padded = np.zeros((9 + 12, 11 + 12) + shape[2:], np.float32)
    padded[6 : 6 + 9, 6 : 6 + 11] = img
    expected = padded[6 + dy : 6 + dy + 9, 6 + dx : 6 + dx + 11]
    np.testing.assert_array_equal(out, expected)


def test_half_pixel_field_averages_neighbours():
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    field = np.stack([np.zeros((3, 4), np.float32), np.full((3, 4), 0.5, np.float32)])
    out = np.asarray(_warp(img, field))
    right = np.concatenate([img[:, 1:], np.zeros((3, 1), np.float32)], axis=1)
    np.testing.assert_allclose(out, 0.5 * (img + right), rtol=1e-6)


@pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST")
def test_distorted_digits_keep_their_labels():
    """The distortion keeps what a digit is: a nearest-class-mean classifier fit on plain
    training digits is as accurate on distorted test digits as on plain ones."""
    train_ds = load_dataset("mnist", "train", data_dir=MNIST_DIR)
    test_ds = load_dataset("mnist", "test", data_dir=MNIST_DIR)
    x, y = train_ds.images[:3000].reshape(3000, -1) / 255.0, train_ds.labels[:3000]
    means = np.stack([x[y == c].mean(0) for c in range(10)])
    images, labels = test_ds.images[:1000], test_ds.labels[:1000]

    def accuracy(imgs):
        flat = np.asarray(imgs, np.float64).reshape(len(imgs), -1) / 255.0
        dist = ((flat[:, None, :] - means[None]) ** 2).sum(-1)
        return float((dist.argmin(1) == labels).mean())

    distorted = _deform(images, jax.random.key(3), alpha=9.0, sigma=3.0)
    assert not np.array_equal(distorted, images)
    assert accuracy(distorted) >= accuracy(images) - 0.03
    # the ink is kept (bilinear resampling of a smooth, small displacement)
    ink, ink_d = images.reshape(1000, -1).sum(1), np.asarray(distorted).reshape(1000, -1).sum(1)
    assert np.median(np.abs(ink_d / ink - 1.0)) < 0.1


# ------------------------------------------------------------ spike-time domain


@pytest.mark.parametrize("conv", [False, True])
def test_spike_times_path_equals_distorting_raw_images(conv):
    images = _blobs(5, seed=2)
    encode = (
        (lambda im: latency_encode(im[..., None], t_window=0.1, image_ndim=3, flatten=False))
        if conv
        else (lambda im: latency_encode(im, t_window=0.1))
    )
    times = np.asarray(encode(images))
    fn = jax.jit(
        lambda t, k, a: elastic_deform_spike_times(
            t, k, alpha=a, sigma=3.0, t_window=0.1, image_shape=(28, 28)
        )
    )
    key = jax.random.key(11)
    out = np.asarray(fn(times, key, 9.0))
    assert out.shape == times.shape
    assert out.dtype == np.float32
    np.testing.assert_array_equal(
        out, np.asarray(encode(_deform(images, key, alpha=9.0, sigma=3.0)))
    )
    np.testing.assert_array_equal(np.asarray(fn(times, key, 0.0)), times)  # bit for bit
    with pytest.raises(ValueError, match="do not hold images"):
        elastic_deform_spike_times(
            times.reshape(5, -1, 1)[:, :700],
            key,
            alpha=1.0,
            sigma=1.0,
            t_window=0.1,
            image_shape=(28, 28),
        )


def test_augmentation_key_is_a_function_of_seed_and_step():
    def bits(seed, step):
        return np.asarray(jax.random.key_data(augmentation_key(seed, step)))

    np.testing.assert_array_equal(bits(3, 5), bits(3, 5))
    np.testing.assert_array_equal(
        bits(3, 5), np.asarray(jax.random.key_data(jax.jit(augmentation_key)(3, jnp.int32(5))))
    )
    assert not np.array_equal(bits(3, 5), bits(3, 6))
    assert not np.array_equal(bits(3, 5), bits(4, 5))
    # independent of the weight initialisation's key(seed)
    assert not np.array_equal(bits(3, 0), np.asarray(jax.random.key_data(jax.random.key(3))))


# --------------------------------------------------------------------- the config


def test_config_fields_default_off_and_validated():
    assert get_config("mnist_multispike").augment is None
    conv = CONFIGS["mnist_conv"]
    assert (conv.augment, conv.elastic_alpha, conv.elastic_sigma) == ("elastic", 9.0, 3.0)
    assert "no elastic augmentation" not in conv.description
    assert config_to_dict(conv)["augment"] == "elastic"
    assert parse_override("augment=none") == ("augment", None)
    assert parse_override("augment=elastic") == ("augment", "elastic")
    assert get_config("mnist_conv", ["augment=none"]).augment is None
    for item, match in (
        ("augment=affine", "augment must be None or one of"),
        ("elastic_alpha=-1", "elastic_alpha = -1.0 is invalid"),
        ("elastic_alpha=inf", "elastic_alpha = inf is invalid"),
        ("elastic_sigma=0", "elastic_sigma = 0.0 is invalid"),
    ):
        with pytest.raises(ConfigError, match=match):
            get_config("mnist_conv", [item])
    with pytest.raises(ConfigError, match="yinyang dataset has none"):
        get_config("yinyang_multispike", ["augment=elastic"])


# ----------------------------------------------------------- the training hook

# A small dense MNIST network (synthetic images: no files needed).
TINY = [
    "sizes=784,8,10",
    "thetas=0.2,0.1",
    "max_spikes=2,4",
    "n_true=4",
    "n_false=1",
    "lr=0.01",
    "batch_size=8",
    "eval_batch_size=16",
    "max_input_events=300",  # the blobs light up <= 121 pixels, distorted a few more
    "augment=elastic",
]


def _synthetic(cfg, n_train=32, n_val=16, n_test=16) -> DataSplits:
    images = _blobs(n_train + n_val + n_test, seed=5)
    labels = np.random.default_rng(5).integers(0, 10, len(images)).astype(np.int32)
    times = np.asarray(latency_encode(images, t_window=cfg.t_window), np.float32)
    cuts = np.cumsum([0, n_train, n_val, n_test])
    parts = [
        SpikeDataset(times[a:b], labels[a:b], name)
        for a, b, name in zip(cuts[:-1], cuts[1:], ("train", "validation", "test"), strict=True)
    ]
    active = int(np.isfinite(times).sum(axis=(1, 2)).max())
    return DataSplits(
        *parts, num_classes=10, input_shape=(784,), source="synthetic", max_active_inputs=active
    )


def _fresh(cfg, data, seed=0):
    bound = input_event_bound(cfg, data)
    model = build_model(cfg, bound)
    opt = make_optimizer(cfg, len(data.train) // cfg.batch_size)
    params = init_params(model, data.input_shape, seed)
    return model, opt, TrainState(params, opt.init(params), jnp.int32(0))


def _leaves(state):
    return [np.asarray(a) for a in jax.tree.leaves(state.params)]


@pytest.mark.standard_promotion  # optax's Adam promotes implicitly
def test_step_hook_alpha_zero_seed_and_step():
    cfg = get_config("mnist_multispike", TINY)
    data = _synthetic(cfg)
    # without a configured bound, all inputs: a distortion may light up more than the data
    unbounded = get_config("mnist_multispike", TINY + ["max_input_events=none"])
    assert input_event_bound(unbounded, data) == 784
    assert input_event_bound(get_config("mnist_multispike", TINY[:-2]), data) < 784
    model, opt, s0 = _fresh(cfg, data)
    t, y = data.train.times[:8], data.train.labels[:8]
    plain = make_train_step(model, get_config("mnist_multispike", TINY[:-1]), opt)
    assert plain(s0, t, y)[1]["overflow"][0] == 0
    still = make_train_step(model, get_config("mnist_multispike", TINY + ["elastic_alpha=0"]), opt)
    aug = make_train_step(model, cfg, opt)
    # alpha = 0: the hook hands the step its inputs unchanged
    for a, b in zip(_leaves(plain(s0, t, y)[0]), _leaves(still(s0, t, y, 3)[0]), strict=True):
        np.testing.assert_array_equal(a, b)
    (s_a, m_a), s_b, s_c = aug(s0, t, y, 3), aug(s0, t, y, 3)[0], aug(s0, t, y, 4)[0]
    assert m_a["overflow"][0] == 0  # the bound of 300 holds the distorted blobs
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(s_a), _leaves(s_b), strict=True))
    assert not all(np.array_equal(a, c) for a, c in zip(_leaves(s_a), _leaves(s_c), strict=True))
    # the default seed is the config's
    s_d = aug(s0, t, y)[0]
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_leaves(aug(s0, t, y, 0)[0]), _leaves(s_d), strict=True)
    )
    # the distortion depends on the optimizer step
    augment = make_input_augmentation(cfg)
    assert make_input_augmentation(get_config("mnist_multispike", TINY[:-1])) is None
    x0, x1 = augment(t, 3, jnp.int32(0)), augment(t, 3, jnp.int32(1))
    assert x0.shape == t.shape
    assert not np.array_equal(x0, x1)
    np.testing.assert_array_equal(x0, augment(t, 3, jnp.int32(0)))


@pytest.mark.standard_promotion
def test_training_uses_the_runs_seed_and_resumes_bit_identically(tmp_path):
    cfg = get_config("mnist_multispike", TINY + ["epochs=3", "seed=3", "keep_checkpoints=3"])
    data = _synthetic(cfg)
    full = train(cfg, tmp_path / "full", data=data, log=lambda _: None)
    assert train(cfg, tmp_path / "res", data=data, log=lambda _: None, stop_after=1) is None
    resumed = train(cfg, tmp_path / "res", data=data, log=lambda _: None)
    assert full["config"]["augment"] == "elastic"
    _, opt, like = _fresh(cfg, data, seed=3)
    states = {}
    for run in ("full", "res"):
        ckpts = RunCheckpoints(os.path.join(tmp_path, run, "checkpoints"))
        try:
            states[run] = {e: ckpts.restore("last", like, e)[0] for e in ckpts.epochs("last")}
        finally:
            ckpts.close()
    for a, b in zip(_leaves(states["full"][3]), _leaves(states["res"][3]), strict=True):
        np.testing.assert_array_equal(a, b)
    rows = [json.loads(ln) for ln in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    rows_res = [
        json.loads(ln) for ln in (tmp_path / "res" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["train_loss"] for r in rows] == [r["train_loss"] for r in rows_res]
    assert full["test_accuracy"] == resumed["test_accuracy"]
    # Epoch 1 by hand, with the run's seed (3) passed to the step: the same parameters.
    model, opt, state = _fresh(cfg, data, seed=3)
    step = make_train_step(model, cfg, opt)
    for idx in batches(len(data.train), cfg.batch_size, seed=3, epoch=0):
        state, _ = step(state, data.train.times[idx], data.train.labels[idx], 3)
    for a, b in zip(_leaves(state), _leaves(states["full"][1]), strict=True):
        np.testing.assert_array_equal(a, b)


# The one-device augmented step and the 2-device data-parallel one on the same batch.
_PARALLEL = """
import json
import jax, jax.numpy as jnp, numpy as np
from snnjax.configs import get_config
from snnjax.encoding import latency_encode
from snnjax.train import (TrainState, build_model, data_mesh, init_params, make_optimizer,
                          make_train_step, replicate)
cfg = get_config("mnist_multispike", %r)
rng = np.random.default_rng(0)
images = np.zeros((8, 28, 28), np.uint8)
images[:, 8:20, 10:18] = rng.integers(0, 256, size=(8, 12, 8))
t = np.asarray(latency_encode(images, t_window=cfg.t_window), np.float32)
y = rng.integers(0, 10, 8).astype(np.int32)
model = build_model(cfg, 300)
opt = make_optimizer(cfg, 4)
params = init_params(model, (784,), 0)
s1 = TrainState(params, opt.init(params), jnp.int32(0))
s2 = replicate(s1, data_mesh(2))
one = make_train_step(model, cfg, opt)
par = make_train_step(model, cfg, opt, mesh=data_mesh(2))
p1, m1 = one(s1, t, y, 5)
p2, m2 = par(s2, t, y, 5)
diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(p1.params),
                                                         jax.tree.leaves(p2.params)))
print(json.dumps({"diff": diff, "loss": [float(m1["loss_sum"]), float(m2["loss_sum"])],
                  "spikes": [np.asarray(m["spikes"]).tolist() for m in (m1, m2)]}))
"""


@pytest.mark.slow
def test_data_parallel_augmented_step_equals_one_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PARALLEL % (TINY,))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["spikes"][0] == out["spikes"][1]  # the same distorted inputs
    assert out["loss"][0] == pytest.approx(out["loss"][1], rel=1e-5)
    assert out["diff"] < 1e-5
