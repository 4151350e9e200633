"""The training loop's CUDA paths (skipped without a GPU; benchmarks/gpu_check.py runs them with `-m cuda`):
pinned-memory prefetch, fused Adam, TF32 switch, peak-memory column, compiled passes, resume.

The noise comes from a generator on the training device, whose stream differs between CPU and CUDA, so
CUDA runs are compared with CUDA runs."""
import csv

import pytest
import torch

from surrogate.core import checkpoint, data
from surrogate.core.data import ShardedBatches, TensorBatches, _PinnedPrefetch
from surrogate.core.training import train
from training_helpers import needs_cuda, tiny_config, write_tiny_file


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_tiny_file(tmp_path_factory.mktemp("data") / "tiny.h5", n_events=500)


def state(run_dir):
    return checkpoint.load(run_dir / checkpoint.TRAINING_STATE_FILE, checkpoint.TRAINING_STATE_KIND,
                           map_location="cpu")


def assert_close_states(a, b, rtol):
    """Weights within what Adam can move them apart (about lr per update for any gradient difference), and
    the last gradients (Adam's first moment, beta1 = 0 for wgan-gp) within ``rtol`` of their scale."""
    for key in ("generator", "critic", "ema"):
        for name, value in a[key].items():
            torch.testing.assert_close(value, b[key][name], rtol=1e-3, atol=2e-3, msg=f"{key}.{name}")
    for key in ("optimizer_generator", "optimizer_critic"):
        for index, moments in a[key]["state"].items():
            gradient, other = moments["exp_avg"], b[key]["state"][index]["exp_avg"]
            scale = float(gradient.abs().max())
            torch.testing.assert_close(gradient, other, rtol=rtol, atol=rtol * scale, msg=f"{key}.{index}")


@needs_cuda
def test_pinned_prefetch_gives_the_batches_of_host_indexing():
    x = torch.randn(103, 5)
    c = torch.randn(103, 1)
    sampler = ShardedBatches(len(x), 16, seed=3)
    prefetch = _PinnedPrefetch(x, c, sampler, torch.device("cuda"))
    for number in [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 3]:  # across epochs, and out of order (a resume)
        got_x, got_c = prefetch.batch(number)
        index = sampler.indices(number)
        assert torch.equal(got_x.cpu(), x[index]) and torch.equal(got_c.cpu(), c[index])


@needs_cuda
def test_small_data_live_on_the_device_and_batches_need_no_upload():
    batches = TensorBatches(torch.randn(50, 4), torch.randn(50, 1), 8, torch.device("cuda"), seed=0)
    x, c = batches.batch(7)
    assert batches.x.is_cuda and batches.sampler.indices(7).is_cuda and x.is_cuda and c.is_cuda


@needs_cuda
def test_cuda_run_logs_peak_memory_uses_fused_adam_and_restores_the_math_settings(data_file, tmp_path):
    matmul_before = torch.get_float32_matmul_precision()
    benchmark_before = torch.backends.cudnn.benchmark
    train(tiny_config(data_file, steps=6, device="cuda", validate_every=3), tmp_path / "run", progress=False)
    assert torch.get_float32_matmul_precision() == matmul_before
    assert torch.backends.cudnn.benchmark == benchmark_before
    with open(tmp_path / "run" / checkpoint.LOG_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(row["peak_memory_gib"]) > 0 and float(row["samples_per_second"]) > 0 for row in rows)
    saved = state(tmp_path / "run")
    assert saved["optimizer_critic"]["param_groups"][0]["fused"] is True


@needs_cuda
def test_compiled_training_agrees_with_eager_on_cuda(data_file, tmp_path):
    common = dict(steps=4, validate_every=0, device="cuda", tf32=False)
    train(tiny_config(data_file, **common), tmp_path / "eager", progress=False)
    train(tiny_config(data_file, compile=True, **common), tmp_path / "compiled", progress=False)
    assert_close_states(state(tmp_path / "eager"), state(tmp_path / "compiled"), 1e-3)


@needs_cuda
@pytest.mark.parametrize("loss", ["wgan-gp", "r1"])
def test_cuda_resume_continues_where_an_uninterrupted_run_goes(data_file, tmp_path, loss):
    config = dict(loss=loss, device="cuda", validate_every=0, checkpoint_every=4, optim={"betas": (0.0, 0.99)})
    train(tiny_config(data_file, steps=8, **config), tmp_path / "straight", progress=False)
    train(tiny_config(data_file, steps=4, **config), tmp_path / "halves", progress=False)
    train(tiny_config(data_file, steps=8, **config), tmp_path / "halves", resume=True, progress=False)
    # scatter-adds on a GPU may sum in any order, so equal up to rounding rather than bit for bit
    assert_close_states(state(tmp_path / "straight"), state(tmp_path / "halves"), 1e-4)


@needs_cuda
def test_training_from_pinned_host_memory_equals_training_from_device_memory(data_file, tmp_path, monkeypatch):
    config = tiny_config(data_file, steps=6, device="cuda", validate_every=0, checkpoint_every=3)
    train(config, tmp_path / "on_device", progress=False)
    monkeypatch.setattr(data, "DEVICE_MEMORY_SHARE", 0.0)  # as if the data did not fit on the device
    train(config, tmp_path / "pinned", progress=False)
    assert_close_states(state(tmp_path / "on_device"), state(tmp_path / "pinned"), 1e-6)
