"""The same `train` command under torchrun with 2 CPU processes (gloo), and DDP gradients with a
gradient penalty equal to single-process ones."""
import csv
import os
import subprocess
import sys
import textwrap

from surrogate.core import checkpoint
from surrogate.core.model import load
from training_helpers import write_tiny_file

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def torchrun(*args, timeout=120):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_train_command_under_torchrun_with_two_cpu_processes(tmp_path):
    data = write_tiny_file(tmp_path / "tiny.h5", n_events=400)
    run_dir = tmp_path / "run"
    done = torchrun("-m", "surrogate", "train", "--data", str(data), "--out", str(run_dir), "--steps", "6",
                    "--batch-size", "32", "--latent-dim", "8", "--width", "16", "--depth", "2",
                    "--validate-every", "3", "--checkpoint-every", "3", "--device", "cpu", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("quick validation score") == 1  # only rank 0 reports
    state = checkpoint.load(run_dir / "training_state.pt", checkpoint.TRAINING_STATE_KIND)
    assert state["world_size"] == 2 and state["step"] == 6
    with open(run_dir / "log.csv") as handle:
        assert [row["step"] for row in csv.DictReader(handle)] == ["3", "6"]  # one writer
    assert not list(run_dir.glob(".*.tmp"))
    assert load(run_dir).sample([2000.0]).shape == (1, 36)


GRADIENT_CHECK = textwrap.dedent("""
    import copy
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from surrogate.core.losses import R1, WassersteinGP

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    reference = copy.deepcopy(critic)
    wrapped = DistributedDataParallel(critic)
    data = torch.Generator().manual_seed(1)
    real, fake, c = (torch.randn(8, n, generator=data) for n in (4, 4, 1))
    score = lambda net: (lambda x, c: net(torch.cat([x, c], dim=1)).squeeze(1))
    halves = (slice(0, 4), slice(4, 8))
    for loss in (WassersteinGP(10.0), R1(3.0, interval=1)):
        critic.zero_grad()
        reference.zero_grad()
        mine = halves[rank]  # each rank its shard; the same interpolation noise as the reference below
        value, _ = loss.critic_loss(score(wrapped), real[mine], fake[mine], c[mine], penalty=True,
                                    generator=torch.Generator().manual_seed(10 + rank))
        value.backward()  # DDP averages the two ranks' gradients
        whole = sum(loss.critic_loss(score(reference), real[s], fake[s], c[s], penalty=True,
                                     generator=torch.Generator().manual_seed(10 + i))[0]
                    for i, s in enumerate(halves)) / 2
        whole.backward()
        for a, b in zip(critic.parameters(), reference.parameters()):
            assert torch.allclose(a.grad, b.grad, atol=1e-6), (loss.name, (a.grad - b.grad).abs().max())
    dist.barrier()
    print("gradients match", rank)
""")


def test_ddp_gradients_with_penalties_match_single_process(tmp_path):
    script = tmp_path / "check.py"
    script.write_text(GRADIENT_CHECK)
    done = torchrun(str(script))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("gradients match") == 2
