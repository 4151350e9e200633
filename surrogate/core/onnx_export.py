"""A trained surrogate as one ONNX graph, for C++ pipelines (Geant4 fast simulation, ONNX Runtime).

The graph is :meth:`Surrogate.sample` for one batch with the noise given as an input: physical
conditions (N, C) float32 in the units of the model's condition names (e.g. incident energy in MeV)
and standard-normal noise (N, latent_dim) float32 -> physical events (N, *event_shape) float32 (cell
energies in MeV for showers). The condition transform, the generator and the inverse preprocessing
are all inside, so a caller passes and receives physical quantities. The batch size is dynamic. The
model's names, units and shapes are stored in the file's metadata (:func:`metadata`; strings, lists
as JSON).

Exporting needs the ``onnx`` extra (onnx, onnxscript for torch's exporter, onnxruntime to check the
written graph against torch).
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os

import numpy as np
import torch

from surrogate._atomic import atomic_path
from surrogate.core.model import Surrogate
from surrogate.errors import SurrogateError

#: ONNX Runtime 1.17 (January 2024) and later run opset 20.
OPSET = 20
INPUT_NAMES = ("conditions", "noise")
OUTPUT_NAME = "events"
#: Largest |onnx - torch| / (1 + |torch|) accepted when checking an export (float32 arithmetic). Not
#: smaller: a cell within rounding of a threshold (the readout threshold, or the calibration's empty
#: fraction) may fall on either side in the two runtimes, and the rescaling of its layer then moves the
#: layer's other cells by its share of the layer, about 1e-4 in ds2 showers.
TOLERANCE = 1e-3
#: Rows of the default check inputs when the domain has no timing points.
CHECK_EVENTS = 8
_REQUIRED = ("onnx", "onnxscript", "onnxruntime")


class PhysicalGenerator(torch.nn.Module):
    """(conditions (N, C), noise (N, latent_dim)) -> events (N, *event_shape), all physical, float32."""

    def __init__(self, model: Surrogate):
        super().__init__()
        self.preprocessor = model.preprocessor
        self.generator = model.generator
        self.event_shape = model.event_shape

    def forward(self, conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        c = self.preprocessor.transform_conditions(conditions)
        x = self.generator(noise, c)
        events = self.preprocessor.inverse(x.float(), conditions)
        return events.reshape(conditions.shape[0], *self.event_shape)


def require_onnx() -> None:
    """Fail in one line naming the extra when a package the export needs is missing."""
    missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise SurrogateError(f"ONNX export needs {', '.join(missing)}: pip install 'surrogate[onnx]'")


def export_onnx(model: Surrogate, out: str | os.PathLike, *, conditions=None, seed: int = 0) -> float:
    """Write ``model`` to ``out`` as one ONNX graph (see the module docstring).

    Before writing, the graph runs in ONNX Runtime on ``conditions`` ((N, C) physical; default: see
    :func:`example_inputs`) with noise drawn from ``seed``; returns the largest difference from torch, relative
    to 1 + |event value|, and raises SurrogateError (writing nothing) above :data:`TOLERANCE`.
    """
    require_onnx()
    import onnx

    module = copy.deepcopy(PhysicalGenerator(model)).to("cpu").eval()  # the caller's model stays where it is
    conditions, noise = example_inputs(model, conditions, CHECK_EVENTS, seed)
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(module, (conditions, noise), dynamo=True, opset_version=OPSET,
                                    input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                                    dynamic_shapes=({0: torch.export.Dim.DYNAMIC},) * 2, external_data=False,
                                    verbose=False)
        program.rename_axes({program.model.graph.inputs[0].shape[0]: "batch"})
        expected = module(conditions, noise).numpy()
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {key: json.dumps(value) if not isinstance(value, str) else value
                                        for key, value in metadata(model).items()})
    difference = _largest_difference(proto.SerializeToString(), conditions.numpy(), noise.numpy(), expected)
    if not difference <= TOLERANCE:
        raise SurrogateError(f"the ONNX graph differs from torch by {difference:.3g} (relative), more than "
                             f"{TOLERANCE:g}; not written", out)
    with atomic_path(out) as temporary:
        onnx.save_model(proto, temporary)
    return difference


def metadata(model: Surrogate) -> dict:
    """What a C++ caller needs to know besides the graph: names (with units), sizes, provenance."""
    return {"domain": model.domain.name, "condition_names": list(model.condition_names),
            "latent_dim": model.latent_dim, "event_shape": list(model.event_shape),
            "library_version": str(model.metadata.get("library_version"))}


def example_inputs(model: Surrogate, conditions, n_events: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 CPU inputs for tracing and checking: ``conditions`` (by default the domain's timing points
    when it has a built-in simulator, else ``n_events`` rows of ones: any values trace the same graph) and
    standard-normal noise drawn with ``seed``."""
    if conditions is None:
        simulator = model.domain.reference_simulator(model.layout)
        conditions = (np.stack([point for _, point in simulator.points]) if simulator is not None
                      else np.ones((n_events, len(model.condition_names))))
    conditions = torch.as_tensor(model.conditions_array(conditions), dtype=torch.float32)
    noise = torch.randn(len(conditions), model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return conditions, noise


def _largest_difference(graph: bytes, conditions: np.ndarray, noise: np.ndarray, expected: np.ndarray) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    (events,) = session.run([OUTPUT_NAME], {INPUT_NAMES[0]: conditions, INPUT_NAMES[1]: noise})
    return float(np.max(np.abs(events - expected) / (1 + np.abs(expected)), initial=0.0))


