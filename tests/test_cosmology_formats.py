"""Map files: the N-body HDF5 layout, Gadget-style snapshots, CAMELS-CMD .npy stacks, bad input, and
the `surrogate simulate nbody` command that writes them."""
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from surrogate.cli import cli, main
from surrogate.core.conditions import read_conditions
from surrogate.core.domain import EventSet, domain_for_file
from surrogate.cosmology import formats
from surrogate.cosmology.domain import DOMAIN
from surrogate.cosmology.maps import slab_maps
from surrogate.cosmology.particle_mesh import ParticleMesh
from surrogate.errors import SurrogateError


def random_maps(n, size=16, seed=0):
    return np.random.default_rng(seed).normal(scale=0.5, size=(n, size, size)).clip(-0.99).astype(np.float32)


def test_nbody_layout_round_trips_and_is_detected(tmp_path):
    path = tmp_path / "maps.h5"
    maps = random_maps(6)
    parameters = np.array([[0.3, 0.8]] * 3 + [[0.25, 0.9]] * 3)
    formats.write_nbody(path, maps, parameters, ("omega_m", "sigma8"), {"box_mpc_h": 100.0, "redshift": 0.5,
                                                                          "grid": 16, "quantity": "density_contrast"})
    assert domain_for_file(path) is DOMAIN
    events = DOMAIN.read(path, start=2, stop=5)
    assert np.array_equal(events.events, maps[2:5]) and np.array_equal(events.conditions, parameters[2:5])
    assert events.condition_names == ("omega_m", "sigma8")
    assert events.layout["box_mpc_h"] == 100.0 and events.layout["map_size"] == 16
    with h5py.File(path) as handle:
        assert list(handle.attrs["omega_m_range"]) == [0.25, 0.3]
    chunks = list(DOMAIN.iter_read(path, chunk_events=4))
    assert [len(chunk) for chunk in chunks] == [4, 2]
    copy = tmp_path / "copy.h5"
    DOMAIN.write(copy, events)
    again = DOMAIN.read(copy)
    assert np.array_equal(again.events, events.events) and again.layout["redshift"] == 0.5
    summary = DOMAIN.inspect(path)
    assert summary["maps"] == 6 and summary["omega_m"] == [0.25, 0.3]
    assert events.groups is None and again.groups is None  # no map_run: every map independent


def test_the_box_of_each_map_is_its_group(tmp_path):
    path = tmp_path / "boxes.h5"
    formats.write_nbody(path, random_maps(6), np.array([[0.3, 0.8]] * 6), ("omega_m", "sigma8"),
                        {"box_mpc_h": 100.0, "quantity": "density_contrast"}, map_run=[0, 0, 0, 1, 1, 1])
    assert DOMAIN.read(path, start=2, stop=5).groups.tolist() == [0, 1, 1]
    assert [chunk.groups.tolist() for chunk in DOMAIN.iter_read(path, chunk_events=4)] == [[0, 0, 0, 1], [1, 1]]
    assert DOMAIN.read(path).subset([5, 0]).groups.tolist() == [1, 0]


def write_gadget(path, positions_kpc_h, box_kpc_h, files=1, unit_cm=None):
    """A snapshot in the Gadget HDF5 layout, optionally split into ``files`` parts NAME.i.hdf5."""
    parts = np.array_split(positions_kpc_h, files)
    paths = [path] if files == 1 else [path.with_name(f"snap_010.{i}.hdf5") for i in range(files)]
    for part, part_path in zip(parts, paths):
        with h5py.File(part_path, "w") as handle:
            header = handle.create_group("Header")
            header.attrs.update({"BoxSize": box_kpc_h, "Redshift": 0.5, "Omega0": 0.3, "HubbleParam": 0.7,
                                 "NumFilesPerSnapshot": files, "NumPart_ThisFile": [0, len(part), 0, 0, 0, 0]})
            if unit_cm is not None:
                header.attrs["UnitLength_in_cm"] = unit_cm
            handle.create_dataset("PartType1/Coordinates", data=part)
    return paths[0]


def test_gadget_snapshot_is_painted_like_the_simulator_paints(tmp_path):
    rng = np.random.default_rng(4)
    positions_mpc_h = (rng.random((20_000, 3)) * 40.0).astype(np.float32)
    path = write_gadget(tmp_path / "snap.hdf5", positions_mpc_h * 1000.0, 40_000.0)
    assert formats.detect_format(path) == formats.GADGET
    events = DOMAIN.read(path, snapshot_map_size=32, snapshot_maps=6, snapshot_sigma8=0.8)
    expected = slab_maps(torch.from_numpy(positions_mpc_h), 40.0, 32, 6)
    assert np.allclose(events.events, expected, atol=1e-4)
    assert events.layout["box_mpc_h"] == pytest.approx(40.0) and events.layout["redshift"] == 0.5
    assert np.allclose(events.conditions, [[0.3, 0.8]] * 6)
    density = formats.gadget_density(path, 16)
    assert np.allclose(density, ParticleMesh(40.0, 16).density_contrast(torch.from_numpy(positions_mpc_h)).numpy(),
                       atol=1e-4)
    assert abs(density.mean()) < 1e-5
    # a split snapshot in Mpc/h units reads all its parts
    split = write_gadget(tmp_path / "snap_010.0.hdf5", positions_mpc_h, 40.0, files=3, unit_cm=3.085678e24)
    particles, header = formats.read_gadget_particles(split)
    assert len(particles) == 20_000 and header["box_mpc_h"] == pytest.approx(40.0)
    assert np.isnan(DOMAIN.read(path).conditions[0, 1])  # sigma8 unknown without the option


def test_camels_stack_reads_with_its_parameter_table(tmp_path):
    maps = np.abs(random_maps(30, size=8, seed=2)) * 1e10
    np.save(tmp_path / "Maps_Mtot_Nbody_IllustrisTNG_LH_z=0.00.npy", maps)
    table = np.array([[0.1, 0.6, 1, 1, 1, 1], [0.5, 1.0, 2, 2, 2, 2]])
    np.savetxt(tmp_path / "params_LH_Nbody_IllustrisTNG.txt", table)
    path = tmp_path / "Maps_Mtot_Nbody_IllustrisTNG_LH_z=0.00.npy"
    assert domain_for_file(path) is DOMAIN
    events = DOMAIN.read(path, start=10, stop=20)
    assert np.array_equal(events.events, maps[10:20].astype(np.float32))
    assert events.conditions[:5].tolist() == [table[0].tolist()] * 5 and events.conditions[5:].tolist() == [
        table[1].tolist()] * 5
    assert events.condition_names[:2] == ("omega_m", "sigma8") and len(events.condition_names) == 6
    assert events.layout["quantity"] == "Mtot" and events.layout["box_mpc_h"] == 25.0
    assert events.layout["redshift"] == 0.0 and events.layout["maps_per_run"] == 15
    # writing keeps the .npy layout, with a NAME.params.txt table that names its columns
    out = tmp_path / "generated.npy"
    DOMAIN.write(out, events)
    back = DOMAIN.read(out)
    assert np.array_equal(back.events, events.events) and np.allclose(back.conditions, events.conditions)
    assert back.condition_names == events.condition_names
    assert (back.layout["quantity"], back.layout["redshift"], back.layout["box_mpc_h"]) == ("Mtot", 0.0, 25.0)
    # a stack without a CMD name is a generic non-negative field unless its table says otherwise
    np.save(tmp_path / "mine.npy", maps[:4])
    np.savetxt(tmp_path / "mine.params.txt", table[:2, :2], header="quantity=density_contrast box_mpc_h=50\nom s8")
    mine = DOMAIN.read(tmp_path / "mine.npy")
    assert mine.condition_names == ("om", "s8") and mine.layout["quantity"] == "density_contrast"
    assert mine.layout["box_mpc_h"] == 50.0 and mine.layout["maps_per_run"] == 2


def test_conditions_come_from_a_map_stack_and_a_table_stays_a_table(tmp_path):
    maps = np.abs(random_maps(4, size=8)) + 0.1
    np.save(tmp_path / "stack.npy", maps)
    parameters = np.array([[0.25, 0.7], [0.35, 0.9]])
    np.savetxt(tmp_path / "points.txt", parameters, header="omega_m sigma8")
    names = ("omega_m", "sigma8")
    from_stack = read_conditions(tmp_path / "stack.npy", names, {"parameter_table": tmp_path / "points.txt"})
    assert from_stack.tolist() == [parameters[0].tolist()] * 2 + [parameters[1].tolist()] * 2
    np.save(tmp_path / "table.npy", parameters)  # (2, 2): a table, not a stack of maps
    assert read_conditions(tmp_path / "table.npy", names).tolist() == parameters.tolist()
    with pytest.raises(SurrogateError, match="no parameter table"):
        read_conditions(tmp_path / "stack.npy", names)


def test_anything_else_is_a_clear_error(tmp_path):
    lonely = tmp_path / "maps.npy"
    np.save(lonely, np.zeros((3, 4, 4)))
    assert DOMAIN.detect(lonely)  # a map stack, but without its table it cannot be read
    with pytest.raises(SurrogateError, match="no parameter table found; looked for maps.params.txt"):
        DOMAIN.read(lonely)
    np.save(tmp_path / "table.npy", np.zeros((3, 4)))
    assert not DOMAIN.detect(tmp_path / "table.npy")
    with pytest.raises(SurrogateError, match="not a map file"):
        DOMAIN.read(tmp_path / "table.npy")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["something"] = np.zeros(3)
    with pytest.raises(SurrogateError, match="other.h5"):
        DOMAIN.read(other)
    np.savetxt(tmp_path / "odd.params.txt", np.ones((2, 2)))
    np.save(tmp_path / "odd.npy", np.zeros((3, 4, 4)))
    with pytest.raises(SurrogateError, match="divide evenly"):
        DOMAIN.read(tmp_path / "odd.npy")


def simulate(tmp_path, name, *extra):
    runner = CliRunner()
    args = ["simulate", "nbody", "--box", "64", "--grid", "16", "--steps", "3", "--maps", "3",
            "--out", str(tmp_path / name), *extra]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_simulate_command_writes_the_layout_and_is_reproducible(tmp_path):
    first = simulate(tmp_path, "a.h5", "--seed", "5", "--redshift", "0.5")
    again = simulate(tmp_path, "b.h5", "--seed", "5", "--redshift", "0.5")
    with h5py.File(first) as a, h5py.File(again) as b:
        assert a["maps"].shape == (3, 16, 16) and a["density"].shape == (1, 16, 16, 16)
        assert a["parameters"].shape == (3, 2) and list(a["parameters"].attrs["names"]) == ["omega_m", "sigma8"]
        for key in ("box_mpc_h", "redshift", "grid", "steps", "seed", "omega_m", "sigma8", "omega_b", "h", "n_s"):
            assert key in a.attrs
        assert a.attrs["redshift"] == 0.5 and a.attrs["seed"] == 5
        assert np.array_equal(a["maps"][:], b["maps"][:]) and np.array_equal(a["density"][:], b["density"][:])
        assert abs(a["density"][:].mean()) < 1e-5


def test_parameter_sweeps_shard_and_merge_into_the_unsharded_file(tmp_path):
    sweep = ["--omega-m", "0.2:0.4", "--sigma8", "0.7:0.9", "--runs", "4", "--seed", "2", "--no-density"]
    whole = simulate(tmp_path, "whole.h5", *sweep)
    parts = [simulate(tmp_path, f"part{i}.h5", *sweep, "--shard", f"{i}/2") for i in (1, 2)]
    DOMAIN.merge(parts, tmp_path / "merged.h5")
    with h5py.File(whole) as a, h5py.File(tmp_path / "merged.h5") as b:
        for key in ("maps", "parameters", "map_run", "run_seeds"):
            assert np.array_equal(a[key][:], b[key][:])
        assert "density" not in a
        points = a["parameters"][::3]
        assert len(np.unique(points[:, 0])) == 4
        # Latin hypercube: one point in each quarter of each range
        assert sorted(np.floor((points[:, 0] - 0.2) / 0.05).astype(int)) == [0, 1, 2, 3]
        assert sorted(np.floor((points[:, 1] - 0.7) / 0.05).astype(int)) == [0, 1, 2, 3]


def test_bad_options_give_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", "nbody", "--omega-m", "0.2:abc", "--out", str(tmp_path / "x.h5")])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--omega-m" in error
    with pytest.raises(SystemExit):
        main(["simulate", "nbody", "--redshift", "30", "--out", str(tmp_path / "x.h5")])
    assert "z_init" in capsys.readouterr().err
    for shard, message in (("0/2", "I must be between 1 and N"), ("3/3", "leaves some empty")):
        with pytest.raises(SystemExit):  # shards count from 1, as for `simulate calorimeter`
            main(["simulate", "nbody", "--runs", "2", "--shard", shard, "--out", str(tmp_path / "x.h5")])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_merge_refuses_files_with_different_settings(tmp_path):
    one = tmp_path / "one.h5"
    two = tmp_path / "two.h5"
    names = ("omega_m", "sigma8")
    formats.write_nbody(one, random_maps(2), np.ones((2, 2)), names, {"box_mpc_h": 100.0})
    formats.write_nbody(two, random_maps(2), np.ones((2, 2)), names, {"box_mpc_h": 50.0})
    with pytest.raises(SurrogateError, match="not mergeable"):
        DOMAIN.merge([one, two], tmp_path / "out.h5")
    events = EventSet(np.ones((2, 2)), random_maps(2), names, {"format": formats.NBODY, "box_mpc_h": 100.0})
    DOMAIN.write(tmp_path / "three.h5", events)
    DOMAIN.merge([one, tmp_path / "three.h5"], tmp_path / "out.h5")
    assert len(DOMAIN.read(tmp_path / "out.h5")) == 4


def test_reference_simulator_for_the_benchmark_makes_maps_of_the_layout(tmp_path):
    path = simulate(tmp_path, "ref.h5", "--seed", "1")
    layout = DOMAIN.read(path).layout
    reference = DOMAIN.reference_simulator(layout)
    _, point = reference.points[0]
    maps = reference.simulate(np.repeat(point[None, :], 4, axis=0), np.random.default_rng(0))
    assert maps.shape == (4, 16, 16) and np.all(maps >= -1.0)  # two boxes of 3 maps, cut to 4
    assert "16^3 particles" in reference.name
    assert reference.events_per_call == 3  # the benchmark times whole boxes
    assert DOMAIN.reference_simulator({**layout, "format": formats.CAMELS}) is None
