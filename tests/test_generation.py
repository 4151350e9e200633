"""The generation pipeline behind `surrogate generate`: same events as Surrogate.sample, bounded memory,
atomic output, and the fast-path options (compile on CPU; CUDA graphs only with CUDA)."""
import contextlib
import json
import sys
import threading
import time

import numpy as np
import pytest
import torch

import surrogate
from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.preprocessing import ShowerPreprocessor
from surrogate.core.domain import Domain, EventSet, EventWriter
from surrogate.core.generation import EAGER, FastPath, draw_noise, generate_to_file, make_batch_function
from surrogate.errors import SurrogateError
from shower_samples import run_cli
from training_helpers import needs_cuda, train_tiny_run

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("generation"), steps=2, validate_every=2, checkpoint_every=2,
                          validation_events=8)


@pytest.fixture
def model(run_dir):
    return surrogate.load(run_dir)


def energies_mev(n, seed=0):
    return np.exp(np.random.default_rng(seed).uniform(np.log(1e3), np.log(1e4), n))


def leftovers(directory):
    """Files in ``directory``, temporary ones included."""
    return sorted(path.name for path in directory.iterdir())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("suffix", ["h5", "root"])
def test_the_file_holds_what_sample_returns(model, tmp_path, precision, suffix):
    conditions = energies_mev(150)
    out = tmp_path / f"generated.{suffix}"
    report = generate_to_file(model, conditions, out, batch_size=32, seed=3, precision=precision)
    assert report.events == 150 and report.path == "eager" and report.device == "cpu"
    written = DOMAIN.read(out)
    assert written.layout["format"] == ("root" if suffix == "root" else "calochallenge")
    np.testing.assert_array_equal(written.conditions[:, 0], conditions)
    np.testing.assert_array_equal(written.events, model.sample(conditions, batch_size=32, seed=3, precision=precision))
    assert leftovers(tmp_path) == [out.name]


def test_the_same_seed_gives_the_same_file(model, tmp_path):
    conditions = energies_mev(40)
    events = []
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        generate_to_file(model, conditions, tmp_path / f"{name}.h5", batch_size=16, seed=seed)
        events.append(DOMAIN.read(tmp_path / f"{name}.h5").events)
    np.testing.assert_array_equal(events[0], events[1])
    assert not np.array_equal(events[0], events[2])


class RecordingDomain:
    """Stands in for the model's domain: its writer records chunk sizes and, while it holds the first
    chunk, how many batches the generator has already produced."""

    def __init__(self, generator, hold_seconds=0.3):
        self.batches_made = 0
        self.made_while_first_was_written = None
        self.chunk_sizes = []
        self.chunks = []
        self.hold_seconds = hold_seconds
        generator.register_forward_hook(self._count)

    def _count(self, *_):
        self.batches_made += 1

    @contextlib.contextmanager
    def open_writer(self, path, layout):
        domain = self

        class Recorder(EventWriter):
            def append(self, events):
                if not domain.chunk_sizes:
                    time.sleep(domain.hold_seconds)  # a slow disk: the producer must wait, not run ahead
                    domain.made_while_first_was_written = domain.batches_made
                domain.chunk_sizes.append(len(events))
                domain.chunks.append(events.events.copy())

        yield Recorder()


def test_memory_stays_at_a_few_batches_whatever_the_number_of_events(model, tmp_path):
    conditions = energies_mev(400, seed=5)
    recorder = RecordingDomain(model.generator)
    model.domain = recorder
    generate_to_file(model, conditions, tmp_path / "unused.h5", batch_size=8, seed=2, queue_batches=2)
    assert recorder.batches_made == 50 and sum(recorder.chunk_sizes) == 400
    assert max(recorder.chunk_sizes) <= 8
    # One batch being written, two queued, one computed and waiting for room: never more in flight.
    assert recorder.made_while_first_was_written <= 2 + 2
    np.testing.assert_array_equal(np.concatenate(recorder.chunks), model.sample(conditions, batch_size=8, seed=2))


def test_a_writer_error_stops_generation_and_leaves_no_file(run_dir, tmp_path, monkeypatch, capsys):
    calls = []
    original = ShowerPreprocessor.inverse

    def nan_in_third_batch(self, x, conditions):
        events = original(self, x, conditions)
        calls.append(len(x))
        if len(calls) == 3:
            events[0, 0] = float("nan")
        return events

    monkeypatch.setattr(ShowerPreprocessor, "inverse", nan_in_third_batch)
    out = tmp_path / "generated.h5"
    threads_before = threading.active_count()
    code, stdout, stderr = run_cli(capsys, "generate", run_dir, "--energy", "2", "--events", "400", "--batch-size",
                                   "10", "--out", out, "--device", "cpu")
    assert code == 2 and "wrote" not in stdout
    assert len(stderr.strip().splitlines()) == 1 and "generated.h5" in stderr and "NaN" in stderr
    assert leftovers(tmp_path) == []
    assert len(calls) < 40  # it stopped soon after the failure instead of generating everything
    assert threading.active_count() == threads_before


def test_a_device_error_stops_the_writer_and_leaves_no_file(model, tmp_path):
    def fail_on_fourth(_module, _inputs, _output):
        fail_on_fourth.calls += 1
        if fail_on_fourth.calls == 4:
            raise RuntimeError("device fell over")

    fail_on_fourth.calls = 0
    model.generator.register_forward_hook(fail_on_fourth)
    threads_before = threading.active_count()
    with pytest.raises(RuntimeError, match="device fell over"):
        generate_to_file(model, energies_mev(100), tmp_path / "generated.root", batch_size=10)
    assert leftovers(tmp_path) == []
    assert threading.active_count() == threads_before


class NpyDomain(Domain):
    """A domain whose format can only be written whole: it relies on the default open_writer."""

    name = "npy-test"

    def __init__(self):
        self.writes = 0

    def write(self, path, events):
        self.writes += 1
        np.save(path, np.concatenate([events.conditions, events.events], axis=1))

    def detect(self, path):
        return False

    def read(self, path, *, start=0, stop=None, **options):
        raise SurrogateError("write-only test domain", path)

    iter_read = inspect = read

    def merge(self, inputs, output, **options):
        raise SurrogateError("write-only test domain", output)


def test_the_default_writer_collects_copies_and_writes_once(tmp_path):
    domain = NpyDomain()
    out = tmp_path / "events.npy"
    chunk = EventSet(np.array([[1.0], [2.0]]), np.ones((2, 3), np.float32), ("x",))
    with domain.open_writer(out, {"domain": "npy-test"}) as writer:
        writer.append(chunk)
        chunk.events[:] = 7.0  # the caller reuses its buffer once append returned
        writer.append(chunk)
        assert not out.exists()
    assert domain.writes == 1
    np.testing.assert_array_equal(np.load(out)[:, 1:], [[1] * 3, [1] * 3, [7] * 3, [7] * 3])
    np.testing.assert_array_equal(np.load(out)[:, 0], [1, 2, 1, 2])
    with pytest.raises(RuntimeError), domain.open_writer(tmp_path / "never.npy", {}) as writer:
        writer.append(chunk)
        raise RuntimeError("failed half-way")
    assert domain.writes == 1 and not (tmp_path / "never.npy").exists()


def test_compiled_generation_matches_eager(model, tmp_path):
    conditions = energies_mev(50, seed=8)  # 50 = 3 x 16 + 2: the last batch is padded to the compiled shape
    out = tmp_path / "compiled.h5"
    report = generate_to_file(model, conditions, out, batch_size=16, seed=1, fast_path=FastPath(compile=True))
    assert report.path == "compiled"
    eager = model.sample(conditions, batch_size=16, seed=1)
    threshold = float(model.preprocessor.threshold_mev)  # a cell at the threshold may round either way
    np.testing.assert_allclose(DOMAIN.read(out).events, eager, rtol=1e-4, atol=2 * threshold)


def test_fast_path_names_and_the_choice_of_batch_function(model, monkeypatch):
    assert [FastPath(*flags).name for flags in [(False, False), (True, False), (False, True), (True, True)]] == \
        ["eager", "compiled", "cuda-graph", "compiled+cuda-graph"]
    compiled = []

    def fake_compile(fn, mode, dynamic):
        compiled.append((mode, dynamic))
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    conditions = torch.tensor([[1500.0], [4000.0], [9000.0]], dtype=torch.float64)
    noise = draw_noise(model, 3, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        eager = make_batch_function(model, 8)(conditions, noise)
        padded = make_batch_function(model, 8, fast_path=FastPath(compile=True))(conditions, noise)
    assert compiled == [("default", False)]  # the CPU mode, one fixed shape
    assert padded.shape == eager.shape == (3, *model.event_shape)
    torch.testing.assert_close(padded, eager)
    with pytest.raises(SurrogateError, match="need a CUDA device"):
        make_batch_function(model, 8, fast_path=FastPath(cuda_graphs=True))
    with pytest.raises(SurrogateError, match="precision"):
        make_batch_function(model, 8, precision="fp8")


@pytest.mark.parametrize("command", ["generate", "benchmark"])
def test_cuda_graphs_without_cuda_is_a_one_line_error(run_dir, tmp_path, capsys, command):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = ["--energy", "1", "--events", "4"] if command == "generate" else []
    out = tmp_path / ("out.h5" if command == "generate" else "bench.json")
    code, _, stderr = run_cli(capsys, command, run_dir, *args, "--out", out, "--cuda-graphs", "--device", "cpu")
    assert code == 2 and stderr.count("\n") == 1 and "need a CUDA device" in stderr
    assert leftovers(tmp_path) == []


def test_benchmark_times_the_fast_path_beside_eager(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, mode, dynamic: fn)  # the plumbing, not the compiler
    out, conditions = tmp_path / "bench.json", tmp_path / "energies.npy"
    np.save(conditions, energies_mev(3))
    simulator = f"{sys.executable} -c pass"  # the tiny geometry has no built-in simulator
    code, stdout, _ = run_cli(capsys, "benchmark", run_dir, "--out", out, "--batch-sizes", "1,4", "--precision",
                              "fp32", "--simulator-command", simulator, "--conditions", conditions, "--repeats", "1",
                              "--device", "cpu", "--compile")
    assert code == 0
    rows = json.loads(out.read_text())["surrogate"]
    assert [(r["batch_size"], r["path"]) for r in rows] == [(1, "eager"), (1, "compiled"), (4, "eager"), (4, "compiled")]
    for row in rows:
        assert {"batch_size", "precision", "events_per_second"} <= set(row)
        assert row["first_call_seconds"] > 0
    assert "compiled" in stdout


@needs_cuda
@pytest.mark.parametrize("fast_path", [EAGER, FastPath(cuda_graphs=True),
                                       FastPath(compile=True, cuda_graphs=True, compile_mode="default")])
def test_cuda_paths_match_sample(model, tmp_path, fast_path):
    model.to("cuda")
    conditions = energies_mev(100, seed=4)  # 100 = 3 x 32 + 4: the graph replays a short batch too
    out = tmp_path / "generated.h5"
    report = generate_to_file(model, conditions, out, batch_size=32, seed=6, fast_path=fast_path)
    assert report.path == fast_path.name and report.device.startswith("cuda")
    expected = model.sample(conditions, batch_size=32, seed=6)
    threshold = float(model.preprocessor.threshold_mev)
    np.testing.assert_allclose(DOMAIN.read(out).events, expected, rtol=1e-4, atol=2 * threshold)


@needs_cuda
def test_a_graph_output_is_overwritten_by_the_next_replay(model):
    model.to("cuda")
    rng = torch.Generator(device="cuda").manual_seed(0)
    conditions = torch.full((4, 1), 3000.0, dtype=torch.float64, device="cuda")
    with torch.inference_mode():
        batch = make_batch_function(model, 4, fast_path=FastPath(cuda_graphs=True))
        first = batch(conditions, draw_noise(model, 4, rng))
        kept = first.clone()
        second = batch(conditions, draw_noise(model, 4, rng))
    assert second.data_ptr() == first.data_ptr()  # the same static buffer: callers must copy it out
    assert not torch.equal(kept, second)
