"""`surrogate quickstart` end to end at a tiny size: every step runs and leaves its outputs."""
import json

from surrogate.calorimeter.domain import DOMAIN
from surrogate.quickstart import plan_with, run_quickstart, summary_lines


def test_quickstart_runs_the_whole_chain(tmp_path):
    plan = plan_with(train_events=120, reference_events=60, steps=8, batch_sizes=(1, 16), simulator_events=1,
                     energy_range_gev=(1.0, 2.0))
    said = []
    result = run_quickstart(tmp_path, plan, workers=1, say=said.append)
    assert [line for line in said if line.startswith("[")] == [
        "[1/5] simulate showers with the reference Monte Carlo",
        "[2/5] train a conditional WGAN-GP of your own (short)",
        "[3/5] generate showers at the reference's energies (shipped ds2-electron and yours)",
        "[4/5] validate both against an independent simulated sample",
        "[5/5] benchmark the shipped ds2-electron against the simulator"]
    reference = DOMAIN.read(tmp_path / "reference.h5")
    assert len(DOMAIN.read(tmp_path / "showers.h5")) == 120 and len(reference) == 60
    for which in ("shipped", "own"):
        generated = DOMAIN.read(tmp_path / f"generated-{which}.h5")
        assert (generated.conditions == reference.conditions).all()  # one shower per reference energy
        metrics = json.loads((tmp_path / f"report-{which}" / "metrics.json").read_text())
        assert metrics["n_reference"] == metrics["n_candidate"] == 60
        assert metrics["summary"] == result["metrics"][which]["summary"]
        assert (tmp_path / f"report-{which}" / "report.html").stat().st_size > 10_000
    shipped, own = DOMAIN.read(tmp_path / "generated-shipped.h5"), DOMAIN.read(tmp_path / "generated-own.h5")
    assert not (shipped.events == own.events).all()
    benchmark = json.loads((tmp_path / "benchmark.json").read_text())
    assert benchmark["speedup"] == result["benchmark"]["speedup"] > 0
    low, high = benchmark["simulator"]["conditions"]["incident_energy_mev"]  # timed at the reference's energies
    assert 1000.0 <= low <= high <= 2000.0
    lines = summary_lines(result)
    assert lines[0].startswith("shipped pretrained model ds2-electron")
    assert any(line.startswith("your own short training (8 steps") for line in lines)
    worst = result["metrics"]["own"]["summary"]["worst"]
    assert sum(line.strip().startswith("worst observable:") for line in lines) == 2
    assert any(worst in line for line in lines)
    assert lines[-1].startswith("total time:")


def test_quickstart_data_is_what_the_simulate_command_writes(tmp_path):
    """The quickstart's showers can be remade, event for event, with `surrogate simulate calorimeter`."""
    import numpy as np
    from click.testing import CliRunner

    from surrogate.cli import cli
    from surrogate.quickstart import simulate_file

    plan = plan_with(energy_range_gev=(1.0, 2.0))
    simulate_file(tmp_path / "quickstart.h5", plan, events=12, seed=5, workers=1)
    result = CliRunner().invoke(cli, ["simulate", "calorimeter", "--geometry", plan.geometry, "--particle",
                                      plan.particle, "--energy-range", "1:2", "--events", "12", "--seed", "5",
                                      "--out", str(tmp_path / "cli.h5")])
    assert result.exit_code == 0, result.output
    ours, theirs = DOMAIN.read(tmp_path / "quickstart.h5"), DOMAIN.read(tmp_path / "cli.h5")
    assert np.array_equal(ours.conditions, theirs.conditions) and np.array_equal(ours.events, theirs.events)
    assert ours.events.sum() > 0
