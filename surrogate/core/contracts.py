"""What a domain's ``build_model`` must return, as Protocols the core checks where it receives the parts.

A domain returns ``(preprocessor, generator, critic)``, three torch modules; the members below are the
ones the trainer, the sampler and the export call. :func:`build_checked` builds them through the domain
and refuses, in one line naming the domain and the missing member, a part that lacks one, so a new
domain learns what it owes at the first call rather than deep inside a training step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from surrogate.errors import SurrogateError

if TYPE_CHECKING:
    import torch

    from surrogate.core.config import ModelConfig
    from surrogate.core.domain import Domain, EventSet


@runtime_checkable
class Preprocessor(Protocol):
    """Physical events and conditions <-> network space; ``inverse`` undoes ``forward`` and returns valid events.

    Optional members, looked up only when present: ``physics_loss`` (an extra generator term, see
    :meth:`surrogate.core.domain.Domain.build_model`) and ``fit_output_calibration``.
    """

    def forward(self, events: "torch.Tensor", conditions: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        """(N, *event_shape) events and (N, C) conditions -> (x, c) in network space."""

    def transform_conditions(self, conditions: "torch.Tensor") -> "torch.Tensor":
        """The condition part of ``forward`` alone (used for sampling)."""

    def inverse(self, x: "torch.Tensor", conditions: "torch.Tensor") -> "torch.Tensor":
        """Network-space samples -> physical events at ``conditions``."""

    def state_dict(self) -> dict[str, Any]:
        """The fitted buffers (normalisation constants), saved in every export."""

    def load_state_dict(self, state: dict[str, Any]) -> Any:
        """Restore the buffers of :meth:`state_dict`."""


@runtime_checkable
class Generator(Protocol):
    """``forward(z, c) -> x`` with ``z`` ~ N(0, 1) of shape (N, latent_dim)."""

    latent_dim: int

    def forward(self, z: "torch.Tensor", c: "torch.Tensor") -> "torch.Tensor":
        """Noise and network-space conditions -> network-space samples."""

    def parameters(self) -> Any:
        """The trainable weights, handed to the optimiser."""

    def state_dict(self) -> dict[str, Any]:
        """The weights, saved in checkpoints and exports."""

    def load_state_dict(self, state: dict[str, Any]) -> Any:
        """Restore the weights of :meth:`state_dict`."""


@runtime_checkable
class Critic(Protocol):
    """``forward(x, c) -> (N,)`` scores; no layer mixes the samples of a batch (penalties are per sample)."""

    def forward(self, x: "torch.Tensor", c: "torch.Tensor") -> "torch.Tensor":
        """Network-space samples and conditions -> one score per sample."""

    def parameters(self) -> Any:
        """The trainable weights, handed to the optimiser."""

    def state_dict(self) -> dict[str, Any]:
        """The weights, saved in the training state."""

    def load_state_dict(self, state: dict[str, Any]) -> Any:
        """Restore the weights of :meth:`state_dict`."""


#: The parts of a built model, in the order ``build_model`` returns them.
PARTS = (("preprocessor", Preprocessor), ("generator", Generator), ("critic", Critic))


def members(protocol: type) -> list[str]:
    """The attributes and methods ``protocol`` requires, in the order it declares them."""
    declared = [name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")]
    return [*getattr(protocol, "__annotations__", {}), *declared]


def check_model(domain_name: str, parts: Any) -> tuple:
    """``parts`` as returned by a domain's ``build_model``, checked against :data:`PARTS`; a one-line
    SurrogateError naming the domain, the part and its first missing member otherwise."""
    if not isinstance(parts, tuple) or len(parts) != len(PARTS):
        raise SurrogateError(f"the {domain_name} domain's build_model must return (preprocessor, generator, "
                             f"critic), not {type(parts).__name__}")
    for part, (role, protocol) in zip(parts, PARTS):
        if isinstance(part, protocol):
            continue
        missing = next(name for name in members(protocol) if not hasattr(part, name))
        raise SurrogateError(f"the {domain_name} domain's {role} ({type(part).__name__}) has no {missing}, "
                             f"which the core needs (see surrogate.core.contracts.{protocol.__name__})")
    return parts


def build_checked(domain: "Domain", layout: dict[str, Any], config: "ModelConfig",
                  train_events: "EventSet | None" = None) -> tuple:
    """``domain.build_model(layout, config, train_events)``, checked by :func:`check_model`."""
    return check_model(domain.name, domain.build_model(layout, config, train_events))
