"""CaloChallenge binning XML files <-> :class:`~surrogate.calorimeter.geometry.Geometry`.

The CaloChallenge schema: a ``<Bins>`` root holding one ``<Bin>`` per particle (attributes ``name``,
optionally ``pid``, ``etaMin``, ``etaMax``), each holding one ``<Layer>`` per readout layer with
``id``, ``r_edges`` (comma-separated radii in mm; a single edge means the layer has no voxels) and
``n_bin_alpha`` (equal angular bins over [-pi, pi)). Voxels are flattened layer by layer in document
order, each layer (alpha, radius) with radius fastest.

Our extension for rectangular readout (the CaloGAN geometry): a layer may instead carry ``x_edges``
and ``y_edges`` (mm; cells (y, x), x fastest) and a ``name``; ``overflow="true"`` on the ``<Bin>``
appends one out-of-cell energy per layer to the event vector.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from surrogate.calorimeter.geometry import CartesianLayer, Geometry, PolarLayer
from surrogate.errors import SurrogateError

#: PDG particle codes and the names the CaloChallenge files use, by our particle names.
PARTICLE_PIDS = {"e-": 11, "e+": -11, "gamma": 22, "pi+": 211, "pi-": -211}
PARTICLE_XML_NAMES = {"e-": "electron", "e+": "positron", "gamma": "photon", "pi+": "pion", "pi-": "pion"}
PARTICLE_BY_PID = {pid: particle for particle, pid in PARTICLE_PIDS.items()}


def read_binning(source: str | os.PathLike, *, particle: str | None = None,
                 name: str | None = None, is_text: bool = False) -> Geometry:
    """The geometry described by a binning XML file (or, with ``is_text``, XML text).

    particle: which ``<Bin>`` to use when the file has several with different layers (our particle
        name such as ``"gamma"``, or the file's own name such as ``"photon"``).
    name: the geometry's name; defaults to the file's stem.
    """
    where = None if is_text else Path(source)
    try:
        root = ET.fromstring(source) if is_text else ET.parse(where).getroot()
    except ET.ParseError as error:
        raise SurrogateError(f"not a valid binning XML ({error})", where) from None
    except OSError as error:
        raise SurrogateError(f"cannot read binning XML ({error.strerror or error})", where) from None
    if root.tag != "Bins":
        raise SurrogateError(f"binning XML root element is <{root.tag}>, expected <Bins>", where)
    bins = [element for element in root if element.tag == "Bin"]
    if not bins:
        raise SurrogateError("binning XML has no <Bin> element", where)
    chosen = _choose_bin(bins, particle, where)
    layers = tuple(_read_layer(element, where) for element in chosen if element.tag == "Layer")
    if not layers:
        raise SurrogateError("binning XML <Bin> has no <Layer> elements", where)
    cartesian = [isinstance(layer, CartesianLayer) for layer in layers]
    if any(cartesian) and not all(cartesian):
        raise SurrogateError("binning XML mixes polar (r_edges) and rectangular (x_edges) layers", where)
    geometry_name = name or (where.stem if where is not None else "custom")
    overflow = chosen.get("overflow", "false").strip().lower() == "true"
    return Geometry(geometry_name, "calogan" if all(cartesian) else "calochallenge", layers, overflow=overflow)


def binning_particle(source: str | os.PathLike, *, is_text: bool = False) -> str | None:
    """Our particle name for the single ``<Bin>`` of a binning XML, when its ``pid`` is a known one."""
    root = ET.fromstring(source) if is_text else ET.parse(Path(source)).getroot()
    pids = {element.get("pid") for element in root if element.tag == "Bin"}
    if len(pids) != 1:
        return None
    pid = pids.pop()
    return PARTICLE_BY_PID.get(int(pid)) if pid and pid.lstrip("-").isdigit() else None


def binning_to_xml(geometry: Geometry, particle: str | None = None) -> str:
    """The binning XML text for ``geometry`` (CaloChallenge schema; x/y edges for rectangular layers)."""
    root = ET.Element("Bins")
    attributes = {}
    if particle in PARTICLE_PIDS:
        attributes["pid"] = str(PARTICLE_PIDS[particle])
    attributes["name"] = PARTICLE_XML_NAMES.get(particle, particle or "any")
    if geometry.overflow:
        attributes["overflow"] = "true"
    bin_element = ET.SubElement(root, "Bin", attributes)
    for index, layer in enumerate(geometry.layers):
        if isinstance(layer, PolarLayer):
            ET.SubElement(bin_element, "Layer", {
                "id": str(index), "r_edges": _join(layer.r_edges_mm), "n_bin_alpha": str(layer.n_alpha)})
        else:
            ET.SubElement(bin_element, "Layer", {
                "id": str(index), "name": layer.name,
                "x_edges": _join(layer.x_edges_mm), "y_edges": _join(layer.y_edges_mm)})
    ET.indent(root, space="   ")
    return ET.tostring(root, encoding="unicode") + "\n"


def write_binning(path: str | os.PathLike, geometry: Geometry, particle: str | None = None) -> None:
    """Write :func:`binning_to_xml` to ``path``."""
    Path(path).write_text(binning_to_xml(geometry, particle), encoding="utf-8")


def same_cells(a: Geometry, b: Geometry, tolerance_mm: float = 1e-6) -> bool:
    """True when two geometries have the same readout cells (depths and materials not compared)."""
    if len(a.layers) != len(b.layers) or a.overflow != b.overflow:
        return False
    for first, second in zip(a.layers, b.layers):
        if type(first) is not type(second) or first.shape != second.shape:
            return False
        if isinstance(first, PolarLayer):
            edges = [(first.r_edges_mm, second.r_edges_mm)]
        else:
            edges = [(first.x_edges_mm, second.x_edges_mm), (first.y_edges_mm, second.y_edges_mm)]
        for left, right in edges:
            if any(abs(x - y) > tolerance_mm for x, y in zip(left, right)):
                return False
    return True


def _choose_bin(bins: list[ET.Element], particle: str | None, where: Path | None) -> ET.Element:
    if particle is not None:
        wanted = {particle, PARTICLE_XML_NAMES.get(particle, particle)}
        pid = PARTICLE_PIDS.get(particle)
        for element in bins:
            if element.get("name") in wanted or (pid is not None and element.get("pid") == str(pid)):
                return element
    if len(bins) == 1 or all(_layers_text(element) == _layers_text(bins[0]) for element in bins):
        return bins[0]
    names = ", ".join(element.get("name", "?") for element in bins)
    raise SurrogateError(f"binning XML has different binnings for particles {names}; name the particle", where)


def _layers_text(element: ET.Element) -> list[dict[str, str]]:
    return [dict(layer.attrib) for layer in element if layer.tag == "Layer"]


def _read_layer(element: ET.Element, where: Path | None) -> PolarLayer | CartesianLayer:
    layer_id = element.get("id", "?")
    try:
        if element.get("r_edges") is not None:
            edges = _floats(element.get("r_edges"))
            n_alpha = int(element.get("n_bin_alpha", "1"))
            if n_alpha < 1:
                raise ValueError("n_bin_alpha must be at least 1")
            _check_increasing(edges)
            return PolarLayer(edges, n_alpha)
        if element.get("x_edges") is not None and element.get("y_edges") is not None:
            x_edges, y_edges = _floats(element.get("x_edges")), _floats(element.get("y_edges"))
            _check_increasing(x_edges)
            _check_increasing(y_edges)
            return CartesianLayer(element.get("name", f"layer_{layer_id}"), x_edges, y_edges)
        raise ValueError("needs r_edges (and n_bin_alpha), or x_edges and y_edges")
    except ValueError as error:
        raise SurrogateError(f"binning XML layer {layer_id}: {error}", where) from None


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(item) for item in text.split(",") if item.strip())


def _check_increasing(edges: tuple[float, ...]) -> None:
    if not edges:
        raise ValueError("no edges")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError("edges must increase")


def _join(values: tuple[float, ...]) -> str:
    return ",".join(_number(value) for value in values)


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
