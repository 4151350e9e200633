"""Validation end to end: numbers that mean something on synthetic showers, and the CLI contract."""
import json

import numpy as np
import pytest

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.layout import make_layout
from surrogate.calorimeter.geometry import get_geometry
from surrogate.cli import main
from surrogate.core import stats
from surrogate.core.domain import EventSet, ObservedSample
from surrogate.core.report import report_style
from surrogate.core.validation import classifier_features, compare_observed, validate
from surrogate.errors import SurrogateError


def synthetic_showers(geometry_name: str, n_events: int, seed: int, *, energy_scale: float = 1.0,
                      lateral_scale: float = 1.0, deposits: int = 300, file_format: str | None = None,
                      **layout_extra: str) -> EventSet:
    """Toy electromagnetic showers: energy deposits placed in the geometry's cells.

    Incident energy log-uniform in 1-100 GeV; depth of each deposit from a gamma distribution whose
    maximum grows like ln(E); radius exponential with a scale growing with depth; resolution
    10%/sqrt(E). ``energy_scale`` multiplies every deposit, ``lateral_scale`` every radius.
    """
    geometry = get_geometry(geometry_name)
    rng = np.random.default_rng(seed)
    incident_mev = 1000.0 * np.exp(rng.uniform(0.0, np.log(100.0), n_events))
    x0_mm = geometry.depth_mm / 36.0
    shower_max_mm = np.clip(x0_mm * (np.log(incident_mev / 8.0) - 0.5 + 0.3 * rng.normal(size=n_events)), x0_mm, None)
    slope = 0.5 / x0_mm
    z_mm = rng.gamma((1 + slope * shower_max_mm)[:, None], 1 / slope, size=(n_events, deposits))
    spread = np.exp(0.1 * rng.normal(size=(n_events, 1)))
    r_mm = lateral_scale * spread * (0.25 * x0_mm + 0.04 * z_mm) * rng.exponential(size=(n_events, deposits))
    phi = rng.uniform(-np.pi, np.pi, size=(n_events, deposits))
    visible_mev = incident_mev * energy_scale * (1 + 0.1 / np.sqrt(incident_mev / 1000) * rng.normal(size=n_events))
    share = rng.exponential(size=(n_events, deposits))
    share *= (visible_mev / share.sum(axis=1))[:, None]
    index = geometry.value_index((r_mm * np.cos(phi)).ravel(), (r_mm * np.sin(phi)).ravel(), z_mm.ravel())
    event = np.repeat(np.arange(n_events), deposits)
    kept = index >= 0
    flat = np.bincount(event[kept] * geometry.n_values + index[kept], weights=share.ravel()[kept],
                       minlength=n_events * geometry.n_values).reshape(n_events, -1)
    layout = make_layout(file_format or geometry.file_layout, geometry, particle="e-",
                         sampling_fraction=geometry.sampling_fraction, **layout_extra)
    return EventSet(incident_mev[:, None], flat.astype(np.float32), ("incident_energy_mev",), layout)


def observed(events: EventSet) -> ObservedSample:
    return ObservedSample(events.conditions, events.condition_names, DOMAIN.observables(events),
                          DOMAIN.pooled_observables(events), DOMAIN.profiles(events), events.layout)


@pytest.fixture(scope="module")
def reference():
    return observed(synthetic_showers("ds2", 2000, seed=1))


def ratios(reference: ObservedSample, candidate: ObservedSample) -> dict[str, float]:
    comparisons, _ = compare_observed(reference, candidate, seed=0, n_resamples=30)
    return {name: comparison.ratio for name, comparison in comparisons.items()}


def test_independent_sample_sits_at_the_noise_floor(reference):
    candidate = observed(synthetic_showers("ds2", 2000, seed=2))
    found = ratios(reference, candidate)
    assert 0.6 < np.median(list(found.values())) < 1.6
    assert found["etot_over_einc"] < 3
    auc = stats.classifier_auc(classifier_features(reference), classifier_features(candidate), seed=0)
    assert auc == pytest.approx(0.5, abs=0.05)
    assert stats.classifier_auc_floor(classifier_features(reference), len(candidate), seed=0) == pytest.approx(
        0.5, abs=0.05)
    sliced = stats.compare_sliced(classifier_features(reference), classifier_features(candidate), n_resamples=20,
                                  seed=0)
    assert 0.6 < sliced["ratio"] < 1.6


def test_energy_scale_is_flagged_where_it_acts(reference):
    found = ratios(reference, observed(synthetic_showers("ds2", 2000, seed=2, energy_scale=1.05)))
    assert found["etot_over_einc"] > 10
    # ... and stands far above everything else: per-layer energies, summed over a 1-100 GeV spectrum,
    # vary too much from shower to shower for a 5% shift to show inclusively; shapes do not change
    second = sorted(found.values())[-2]
    assert found["etot_over_einc"] > 3 * second
    shapes = [name for name in found if name.endswith(("_fraction", "_width_mm", "_centroid_mm", "_layer"))]
    assert np.median([found[name] for name in shapes]) < 1.6
    assert found["depth_centroid_mm"] < 3 and found["layer08_r_width_mm"] < 3


def test_broader_showers_flag_lateral_widths_only(reference):
    candidate = observed(synthetic_showers("ds2", 2000, seed=2, lateral_scale=1.3))
    found = ratios(reference, candidate)
    # the standardised feature vector as a whole moves too, far beyond its floor
    sliced = stats.compare_sliced(classifier_features(reference), classifier_features(candidate), n_resamples=20,
                                  seed=0)
    assert sliced["ratio"] > 5
    main_layers = [f"layer{i:02d}" for i in range(5, 15)]
    assert min(found[f"{layer}_r_width_mm"] for layer in main_layers) > 5
    assert min(found[f"{layer}_r_centroid_mm"] for layer in main_layers) > 5
    for unaffected in ("etot_over_einc", "depth_centroid_layer", "depth_width_layer", "layer08_fraction"):
        assert found[unaffected] < 3, unaffected


def test_same_seed_same_numbers(tmp_path):
    DOMAIN.write(tmp_path / "ref.h5", synthetic_showers("calogan", 300, seed=3))
    DOMAIN.write(tmp_path / "cand.h5", synthetic_showers("calogan", 200, seed=4))
    first = validate(tmp_path / "ref.h5", tmp_path / "cand.h5", tmp_path / "one", seed=5, n_resamples=20,
                     report=False)
    assert json.loads((tmp_path / "one" / "metrics.json").read_text()) == first
    assert not (tmp_path / "one" / "report.html").exists()
    assert validate(tmp_path / "ref.h5", tmp_path / "cand.h5", tmp_path / "two", seed=5, n_resamples=20,
                    report=False) == first
    other = validate(tmp_path / "ref.h5", tmp_path / "cand.h5", tmp_path / "three", seed=6, n_resamples=20,
                     report=False, classifier=False)
    ours, theirs = first["observables"]["etot_over_einc"], other["observables"]["etot_over_einc"]
    assert theirs["w1"] == ours["w1"] and theirs["noise_floor"] != ours["noise_floor"]


def test_cli_writes_documented_outputs_and_fails_above_the_threshold(tmp_path, capsys):
    # a ROOT reference with its own tree and branch names, read with the reader options
    DOMAIN.write(tmp_path / "ref.root", synthetic_showers("calogan", 300, seed=6, file_format="root", tree="calo",
                                                          energy_branch="e0", showers_branch="cells"))
    DOMAIN.write(tmp_path / "same.h5", synthetic_showers("calogan", 250, seed=7))
    DOMAIN.write(tmp_path / "hot.h5", synthetic_showers("calogan", 300, seed=7, energy_scale=1.2))
    base = ["validate", "--reference", str(tmp_path / "ref.root"), "--resamples", "20", "--tree", "calo",
            "--energy-branch", "e0", "--showers-branch", "cells"]
    main(base + ["--candidate", str(tmp_path / "same.h5"), "--out", str(tmp_path / "same"), "--fail-above", "50"])
    assert "median ratio" in capsys.readouterr().out

    metrics = json.loads((tmp_path / "same" / "metrics.json").read_text())
    for key in ("reference", "candidate", "n_reference", "n_candidate", "observables", "classifier_auc", "summary"):
        assert key in metrics
    assert (metrics["n_reference"], metrics["n_candidate"]) == (300, 250)
    assert set(metrics["summary"]) == {"worst", "worst_ratio", "median_ratio"}
    for name, entry in metrics["observables"].items():
        assert set(entry) == {"w1", "w1_err", "noise_floor", "ratio"}, name
        assert entry["ratio"] >= 0 and entry["noise_floor"] >= 0
    for name in ("etot_over_einc", "log10_cell_energy_mev", "layer1_eratio", "depth_weighted_energy_mev"):
        assert name in metrics["observables"]
    assert metrics["classifier_auc"] == pytest.approx(0.5, abs=0.15)
    assert metrics["condition_bins"][0]["label"].startswith("E = ")
    page = (tmp_path / "same" / "report.html").read_text()
    plots = sorted(path.name for path in (tmp_path / "same" / "plots").iterdir())
    assert page.count("data:image/png;base64,") == len(plots)
    assert {"ratios.png", "response_resolution.png", "hist_etot_over_einc.png"} <= set(plots)
    assert not list(tmp_path.rglob("*.tmp"))

    with pytest.raises(SystemExit) as failed:
        main(base + ["--candidate", str(tmp_path / "hot.h5"), "--out", str(tmp_path / "hot"), "--fail-above", "5",
                     "--no-classifier"])
    assert failed.value.code == 1
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and "above ratio 5" in error
    metrics = json.loads((tmp_path / "hot" / "metrics.json").read_text())
    assert metrics["classifier_auc"] is None
    assert metrics["summary"]["worst_ratio"] > 5 and metrics["observables"]["etot_over_einc"]["ratio"] > 5


def test_files_of_different_layouts_are_refused_in_one_line(tmp_path, capsys):
    DOMAIN.write(tmp_path / "calogan.h5", synthetic_showers("calogan", 50, seed=8))
    DOMAIN.write(tmp_path / "ds2.h5", synthetic_showers("ds2", 50, seed=8))
    with pytest.raises(SurrogateError, match="not the same layout"):
        validate(tmp_path / "calogan.h5", tmp_path / "ds2.h5", tmp_path / "out")
    with pytest.raises(SystemExit) as failed:
        main(["validate", "--reference", str(tmp_path / "calogan.h5"), "--candidate", str(tmp_path / "ds2.h5"),
              "--out", str(tmp_path / "out")])
    assert failed.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "ds2.h5" in error


def test_report_style_says_in_one_line_when_mplhep_is_missing(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mplhep", None)  # makes `import mplhep` fail
    with report_style() as notice:
        assert "mplhep is not installed" in notice and "\n" not in notice


def test_report_words_units_and_verdict():
    from surrogate.core.report import auc_band, axis_label, verdict, w1_unit

    assert axis_label("layer12_r_width_mm") == "layer 12 r width [mm]"
    assert axis_label("log10_cell_energy_mev") == "log10(cell energy / MeV)"
    assert axis_label("etot_over_einc") == "etot over einc"
    assert axis_label("log10_power_low_mpc2_h2") == "log10(power low / (Mpc/h)^2)"
    names = ("layer03_energy_mev", "log10_cell_energy_mev", "pixel_log10_x", "void_fraction")
    assert [w1_unit(name) for name in names] == ["MeV", "dex", "dex", ""]
    assert auc_band(0.51)[1] == "indistinguishable" and auc_band(0.999)[1] == "clearly separable"
    assert auc_band(0.999)[0] != auc_band(0.51)[0] and auc_band(None)[0] == "#fff"
    ratios = {f"o{i}": {"ratio": r} for i, r in enumerate([0.9, 1.2, 40.0, 12.0, 2.0])}
    assert verdict(ratios) == ("Not yet a substitute: 2 of 5 observables are more than 10x their noise floor "
                               "(worst: o2 at 40).")
    assert verdict({"a": {"ratio": 0.8}, "b": {"ratio": 1.1}}).startswith("As good as more simulation")


def test_ratio_panel_marks_points_off_scale_instead_of_clipping_them():
    from matplotlib.figure import Figure

    from surrogate.core.report import _draw_ratio

    axis = Figure().subplots()
    x = np.arange(5.0)
    _draw_ratio(axis, x, np.array([1.0, 1.2, 2.2, 9.0, 0.01]), np.full(5, 0.1))
    low, high = axis.get_ylim()
    assert low <= 0.01 and high == 3.0  # widened to hold 0.01 and 2.2, capped at 3
    markers = {line.get_marker(): line.get_xdata().tolist() for line in axis.get_lines()}
    assert markers["^"] == [3.0]  # 9 lies above the panel: a triangle at its top
    assert "v" not in markers  # 0.01 is inside the widened range
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["off scale"]


def test_maps_report_speaks_of_maps_and_puts_the_mplhep_notice_in_a_footnote(tmp_path):
    from surrogate.core.report import render_html

    metrics = {"candidate": "c.h5", "reference": "r.h5", "n_candidate": 4, "n_reference": 5, "domain": "cosmology",
               "observables": {"pixel_std": {"w1": 1.0, "w1_err": 0.1, "noise_floor": 0.5, "ratio": 2.0}},
               "summary": {"worst": "pixel_std", "worst_ratio": 2.0, "median_ratio": 2.0}, "classifier_auc": 0.7,
               "floor_from_both_samples": ["pixel_std"], "separation_power": {},
               "condition_bins": [{"label": "sigma8 0.6-0.8", "n_reference": 5, "n_candidate": 4, "skipped": "few"}]}
    page = render_html(metrics, {}, tmp_path, "mplhep is not installed", noun="map")
    assert "reference maps" in page and "(4 maps)" in page and "few showers" not in page and "Geant4" not in page
    assert page.index("mplhep is not installed") > page.index("All observables")
    assert "class='verdict'>Close: every observable is within 3x its noise floor" in page
    assert "<em>separation power</em>" in page and "background:#ffcc80'><div class='value'>0.700" in page
