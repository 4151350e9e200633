"""Conditional generators and critics for showers in the network space of
:class:`~surrogate.calorimeter.preprocessing.ShowerPreprocessor`: a vector of 1 + K + n_values
features (total response, K layer fractions, then every event entry in file order).

- ``dense``: MLPs on the flat vector; works for any binning.
- ``conv``: 3D convolutions over (layer, angle, radius) with circular padding in angle, for polar
  geometries whose layers all have the same bins (CaloChallenge ds2/ds3-like); a dense head makes
  the K + 1 energy features.
- ``layer-streams``: one MLP stream per readout layer, each seeing the outputs of the layers before
  it (the CaloGAN three-stream design for the three-layer CaloGAN geometry); dense critic.

The condition enters the generator by concatenation (to z and every hidden layer) or by FiLM
(conditional scale and shift after a LayerNorm), and the critic by concatenation to its input or by
a projection head. No critic layer mixes samples of a batch (no BatchNorm): penalties are per sample.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NEGATIVE_SLOPE = 0.2


def _widths(base: int, depth: int, growing: bool) -> list[int]:
    """Hidden widths doubling layer by layer (generator) or halving (critic), ending/starting at base."""
    widths = [base * 2 ** i for i in range(depth)]
    return widths if growing else widths[::-1]


class FiLM(nn.Module):
    """Conditional normalisation: LayerNorm without affine, then (1 + scale(c)) * h + shift(c)."""

    def __init__(self, n_conditions: int, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.affine = nn.Linear(n_conditions, 2 * width)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(c).chunk(2, dim=1)
        return self.norm(h) * (1 + scale) + shift


class ConditionalMLP(nn.Module):
    """An MLP whose hidden layers receive the condition by concatenation or FiLM."""

    def __init__(self, n_inputs: int, n_conditions: int, widths: list[int], conditioning: str):
        super().__init__()
        self.conditioning = conditioning
        extra = n_conditions if conditioning == "concat" else 0
        sizes = [n_inputs] + widths
        self.linears = nn.ModuleList(nn.Linear(a + extra, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.films = nn.ModuleList(FiLM(n_conditions, w) for w in widths) if conditioning == "film" else None
        self.n_outputs = sizes[-1]

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        for i, linear in enumerate(self.linears):
            h = linear(torch.cat([h, c], dim=1) if self.conditioning == "concat" else h)
            if self.films is not None:
                h = self.films[i](h, c)
            h = F.leaky_relu(h, NEGATIVE_SLOPE)
        return h


class SimplexHead(nn.Module):
    """The generator's last step: every fraction block of the network space put on its simplex.

    Raw outputs (N, 1 + K + n_values) are in standardised units: the first, times the preprocessor's
    ``response_weight``, is the response; the others, scaled by the feature's standard deviation and
    offset by ``logit_offset``, are logits of a softmax over the K layers and, layer by layer, over the
    cells, whose fractions become log(fraction + alpha), standardised again. The offset is log(mean
    fraction + alpha) of the training showers, so a raw output of 0 gives the mean layer and radial
    profile (rarely hit cells start near empty). Offsetting by the mean of log(fraction + alpha) instead
    would start every intermittently hit cell near alpha, since the empty showers dominate that
    log-mean: nearly all of a layer's energy would start in its core cells. Generated showers thus
    satisfy the constraint of real ones exactly (fractions sum to 1); an unconstrained generator drifts
    along the sum, which the inverse's renormalisation turns into wrong cell energies.
    """

    def __init__(self, groups: torch.Tensor, alpha: float):
        super().__init__()
        groups = torch.as_tensor(groups, dtype=torch.long)
        self.n_groups = int(groups.max()) + 1
        self.alpha = alpha
        n_features = 1 + self.n_groups + len(groups)
        self.register_buffer("groups", groups)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.register_buffer("logit_offset", torch.zeros(n_features - 1))
        self.register_buffer("response_scale", torch.ones(()))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if prefix + "response_scale" not in state_dict and prefix + "feature_mean" in state_dict:
            state_dict[prefix + "response_scale"] = torch.ones(())  # exports from before the response weight
        key = prefix + "logit_offset"
        if key not in state_dict and prefix + "feature_mean" in state_dict:  # exports from before the offset
            state_dict[key] = state_dict[prefix + "feature_mean"][1:]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def like(cls, preprocessor) -> "SimplexHead":
        """A head using ``preprocessor``'s groups, alpha and (fitted) standardisation."""
        head = cls(preprocessor.groups, preprocessor.alpha)
        head.feature_mean.copy_(preprocessor.feature_mean)
        head.feature_std.copy_(preprocessor.feature_std)
        offset = preprocessor.mean_fraction_logits  # set by fit; for a loaded model the checkpoint fills it
        head.logit_offset.copy_(preprocessor.feature_mean[1:] if offset is None else offset[1:])
        head.response_scale.fill_(preprocessor.response_weight)
        return head

    def _cell_fractions(self, logits: torch.Tensor) -> torch.Tensor:
        """A softmax within each layer group (groups need not be contiguous)."""
        index = self.groups.expand_as(logits)
        peak = logits.new_full((len(logits), self.n_groups), -torch.inf).scatter_reduce(1, index, logits, "amax")
        weights = torch.exp(logits - peak[:, self.groups])
        sums = weights.new_zeros(len(logits), self.n_groups).index_add_(1, self.groups, weights)
        return weights / sums[:, self.groups]

    def add_cell_noise(self, scale: float | torch.Tensor) -> int:
        """Add independent Gaussian noise to every cell's logit, with a learned scale per cell (initially
        ``scale``: one value, or one per cell); returns the number of noise inputs :meth:`forward` takes."""
        n_cells = len(self.groups)
        initial = torch.as_tensor(scale, dtype=torch.float32).expand(n_cells).clamp_min(1e-3)
        self.noise_log_scale = nn.Parameter(initial.log().clone())
        return n_cells

    def forward(self, raw: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        raw = raw.float()
        if noise is not None:
            cells = raw[:, 1 + self.n_groups:] + noise.float() * self.noise_log_scale.exp()
            raw = torch.cat([raw[:, :1 + self.n_groups], cells], dim=1)
        mean, std = self.feature_mean[1:], self.feature_std[1:]
        logits = raw[:, 1:] * std + self.logit_offset  # raw 0 -> the mean fractions
        layers = torch.softmax(logits[:, :self.n_groups], dim=1)
        cells = self._cell_fractions(logits[:, self.n_groups:])
        fractions = torch.log(torch.cat([layers, cells], dim=1) + self.alpha)
        return torch.cat([raw[:, :1] * self.response_scale, (fractions - mean) / std], dim=1)


class DenseGenerator(nn.Module):
    """z (N, latent_dim), c (N, C) -> x (N, n_features) through a conditional MLP.

    cell_noise: a scale > 0 (or one per cell) makes the head add independent noise to every cell's logit
    (that initial scale, learned per cell), drawn as extra entries of z, so ``self.latent_dim`` is
    latent_dim + n_values. A
    low-dimensional z alone cannot make the independent, rarely hit outer cells of real showers: the
    critic then pushes them all to empty and the showers come out far too narrow.
    """

    def __init__(self, latent_dim: int, n_conditions: int, n_features: int, width: int, depth: int,
                 conditioning: str = "concat", head: nn.Module | None = None,
                 cell_noise: float | torch.Tensor = 0.0):
        super().__init__()
        noisy = bool(torch.as_tensor(cell_noise).gt(0).any())
        if noisy and not isinstance(head, SimplexHead):
            raise ValueError("cell noise needs a SimplexHead")
        self.latent_dim = latent_dim
        self.body = ConditionalMLP(latent_dim + n_conditions, n_conditions, _widths(width, depth, True), conditioning)
        self.out = nn.Linear(self.body.n_outputs, n_features)
        self.head = head or nn.Identity()
        self.n_body_latent = latent_dim
        if noisy:  # z carries, after the MLP's latent_dim entries, one noise value per cell
            self.latent_dim = latent_dim + self.head.add_cell_noise(cell_noise)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        raw = self.out(self.body(torch.cat([z[:, :self.n_body_latent], c], dim=1), c))
        if self.latent_dim > self.n_body_latent:
            return self.head(raw, z[:, self.n_body_latent:])
        return self.head(raw)


class CriticHead(nn.Module):
    """Last layer of a critic: a linear score, plus <embed(c), h> with projection conditioning."""

    def __init__(self, n_features: int, n_conditions: int, conditioning: str):
        super().__init__()
        self.score = nn.Linear(n_features, 1)
        self.embed = nn.Linear(n_conditions, n_features) if conditioning == "projection" else None

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        score = self.score(h).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(c) * h).sum(dim=1)
        return score


class ShowerFeatures(nn.Module):
    """What a physicist histograms, computed differentiably from network-space showers for the critic.

    Per layer with cells: the energy-weighted centroid in x and y, mean radius and radial width (mm),
    and log of the effective number of hit cells, 1 / sum p_i^2 over the layer's cell fractions p_i
    (small when one cell holds the layer, large when energy is shared evenly: it measures both the
    sparsity and the angular sharing within rings). Each feature is standardised with constants fitted
    on training showers (:meth:`fit`). A critic fed these sees at once what it would otherwise have to
    learn from thousands of cells.
    """

    N_PER_LAYER = 5

    def __init__(self, preprocessor, x_mm, y_mm, r_mm, is_cell):
        super().__init__()
        self.n_groups = preprocessor.n_groups
        self.alpha = preprocessor.alpha
        self.register_buffer("groups", preprocessor.groups.clone())
        self.register_buffer("cell_mean", preprocessor.feature_mean[1 + self.n_groups:].float().clone())
        self.register_buffer("cell_std", preprocessor.feature_std[1 + self.n_groups:].float().clone())
        for name, values in (("x_mm", x_mm), ("y_mm", y_mm), ("r_mm", r_mm)):
            self.register_buffer(name, torch.as_tensor(values, dtype=torch.float32))
        self.register_buffer("is_cell", torch.as_tensor(is_cell, dtype=torch.float32))
        n_features = self.N_PER_LAYER * self.n_groups
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.n_features = n_features

    def _sums(self, values: torch.Tensor) -> torch.Tensor:
        return values.new_zeros(len(values), self.n_groups).index_add_(1, self.groups, values)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 5 K) unstandardised features of network-space showers x (N, 1 + K + n_values)."""
        logs = x[:, 1 + self.n_groups:].float() * self.cell_std + self.cell_mean
        share = (torch.exp(logs) - self.alpha).clamp_min(0) * self.is_cell
        p = share / self._sums(share)[:, self.groups].clamp_min(1e-12)
        x_mean, y_mean = self._sums(p * self.x_mm), self._sums(p * self.y_mm)
        r_mean = self._sums(p * self.r_mm)
        r_width = (self._sums(p * self.r_mm.square()) - r_mean.square()).clamp_min(0).add(1.0).sqrt()
        effective_cells = torch.log(1.0 / self._sums(p.square()).clamp_min(1e-6))
        return torch.cat([x_mean, y_mean, r_mean, r_width, effective_cells], dim=1)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "ShowerFeatures":
        features = self.raw(x)
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_std.copy_(features.std(dim=0).clamp_min(1e-3))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.raw(x) - self.feature_mean) / self.feature_std


class DenseCritic(nn.Module):
    """x (N, n_features), c (N, C) -> scores (N,) through an MLP (condition concatenated or projected).

    The first ``n_summary`` features (the response and layer fractions) also go through a small
    side branch joined before the head: in the main MLP they are a handful of inputs among thousands
    of cells, and the critic would otherwise be slow to notice a wrong energy distribution. With
    ``physics`` (:class:`ShowerFeatures`) the side branch also sees each layer's centroids, widths and
    effective number of hit cells.
    """

    def __init__(self, n_features: int, n_conditions: int, width: int, depth: int, conditioning: str = "concat",
                 n_summary: int = 0, physics: ShowerFeatures | None = None):
        super().__init__()
        self.concat = conditioning == "concat"
        self.n_summary = n_summary
        self.physics = physics
        extra = n_conditions if self.concat else 0
        widths = _widths(width, depth, False)
        self.body = ConditionalMLP(n_features + extra, n_conditions, widths, "none")
        n_side = n_summary + (physics.n_features if physics is not None else 0)
        self.summary = ConditionalMLP(n_side + extra, n_conditions, [width, width], "none") if n_side else None
        self.head = CriticHead(self.body.n_outputs + (width if n_side else 0), n_conditions, conditioning)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        with_c = (lambda h: torch.cat([h, c], dim=1)) if self.concat else (lambda h: h)
        h = self.body(with_c(x), c)
        if self.summary is not None:
            side = x[:, :self.n_summary]
            if self.physics is not None:
                side = torch.cat([side, self.physics(x)], dim=1)
            h = torch.cat([h, self.summary(with_c(side), c)], dim=1)
        return self.head(h, c)


class PolarConv(nn.Module):
    """3D convolution over (layer, angle, radius): circular padding in angle, zeros elsewhere."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.pad(h, (0, 0, 1, 1, 0, 0), mode="circular")  # angle wraps around
        h = F.pad(h, (1, 1, 0, 0, 1, 1))  # radius and layer: zeros
        return self.conv(h)


class ConvGenerator(nn.Module):
    """A dense trunk for the K + 1 energy features and an upsampling 3D-conv stack for the cells.

    grid: (K layers, A angles, R radii); the cells occupy x[:, K + 1:] in (layer, angle, radius)
    order. Conditioning: the condition is broadcast as extra channels of every conv block ("concat")
    or modulates each block's channels (FiLM over channels).
    """

    def __init__(self, latent_dim: int, n_conditions: int, grid: tuple[int, int, int], width: int, depth: int,
                 conditioning: str = "concat", head: nn.Module | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.head = head or nn.Identity()
        self.grid = grid
        self.conditioning = conditioning
        self.trunk = ConditionalMLP(latent_dim + n_conditions, n_conditions, [width] * depth, conditioning)
        self.energies = nn.Linear(width, grid[0] + 1)
        channels = max(8, width // 8)
        self.sizes = [tuple(math.ceil(n / 2 ** level) for n in grid) for level in (2, 1, 0)]
        self.seed = nn.Linear(width, channels * math.prod(self.sizes[0]))
        self.channels = channels
        extra = n_conditions if conditioning == "concat" else 0
        self.blocks = nn.ModuleList(PolarConv(channels + extra, channels) for _ in self.sizes)
        self.films = nn.ModuleList(nn.Linear(n_conditions, 2 * channels) for _ in self.sizes) \
            if conditioning == "film" else None
        self.to_cells = PolarConv(channels, 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.trunk(torch.cat([z, c], dim=1), c)
        grid = self.seed(h).reshape(len(z), self.channels, *self.sizes[0])
        for i, (size, block) in enumerate(zip(self.sizes, self.blocks)):
            grid = F.interpolate(grid, size=size, mode="trilinear", align_corners=False)
            if self.conditioning == "concat":
                grid = torch.cat([grid, c[:, :, None, None, None].expand(-1, -1, *size)], dim=1)
            grid = block(grid)
            if self.films is not None:
                scale, shift = self.films[i](c)[:, :, None, None, None].chunk(2, dim=1)
                grid = grid * (1 + scale) + shift
            grid = F.leaky_relu(grid, NEGATIVE_SLOPE)
        cells = self.to_cells(grid).reshape(len(z), -1)
        return self.head(torch.cat([self.energies(h), cells], dim=1))


class ConvCritic(nn.Module):
    """Strided 3D convolutions over the cells, then an MLP on (cell features, K + 1 energies, c)."""

    def __init__(self, n_conditions: int, grid: tuple[int, int, int], width: int, depth: int,
                 conditioning: str = "concat"):
        super().__init__()
        self.grid = grid
        self.concat = conditioning == "concat"
        channels = max(8, width // 8)
        self.convs = nn.ModuleList([PolarConv(1, channels, stride=1), PolarConv(channels, 2 * channels, stride=2),
                                    PolarConv(2 * channels, 4 * channels, stride=2)])
        with torch.no_grad():
            n_cell_features = self._cells(torch.zeros(1, math.prod(grid))).shape[1]
        n_inputs = n_cell_features + grid[0] + 1 + (n_conditions if self.concat else 0)
        self.body = ConditionalMLP(n_inputs, n_conditions, [width] * depth, "none")
        self.head = CriticHead(width, n_conditions, conditioning)

    def _cells(self, cells: torch.Tensor) -> torch.Tensor:
        h = cells.reshape(len(cells), 1, *self.grid)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), NEGATIVE_SLOPE)
        return h.flatten(1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        n_energies = self.grid[0] + 1
        parts = [self._cells(x[:, n_energies:]), x[:, :n_energies]] + ([c] if self.concat else [])
        return self.head(self.body(torch.cat(parts, dim=1), c), c)


class LayerStreamGenerator(nn.Module):
    """One generator stream per layer group; stream k sees z, c and the outputs of streams 0..k-1.

    groups: (n_values,) layer group of each event entry; a dense head makes the K + 1 energy
    features. Stream outputs are placed back at their entries' positions in the event vector.
    """

    def __init__(self, latent_dim: int, n_conditions: int, groups: torch.Tensor, width: int, depth: int,
                 conditioning: str = "concat", head: nn.Module | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.head = head or nn.Identity()
        groups = torch.as_tensor(groups)
        n_groups = int(groups.max()) + 1
        sizes = [int((groups == k).sum()) for k in range(n_groups)]
        summary = max(8, width // 4)
        self.trunk = ConditionalMLP(latent_dim + n_conditions, n_conditions, [width], conditioning)
        self.energies = nn.Linear(width, n_groups + 1)
        self.summaries = nn.ModuleList(nn.Linear(sum(sizes[:k]), summary) for k in range(1, n_groups))
        self.streams = nn.ModuleList(
            ConditionalMLP(latent_dim + n_conditions + (summary if k else 0), n_conditions,
                           _widths(width, depth, True), conditioning)
            for k in range(n_groups))
        self.outputs = nn.ModuleList(nn.Linear(stream.n_outputs, size) for stream, size in zip(self.streams, sizes))
        self.register_buffer("placement", torch.argsort(torch.argsort(groups, stable=True)))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        zc = torch.cat([z, c], dim=1)
        layers: list[torch.Tensor] = []
        for k, (stream, output) in enumerate(zip(self.streams, self.outputs)):
            inputs = zc if k == 0 else torch.cat([zc, self.summaries[k - 1](torch.cat(layers, dim=1))], dim=1)
            layers.append(output(stream(inputs, c)))
        cells = torch.cat(layers, dim=1)[:, self.placement]
        return self.head(torch.cat([self.energies(self.trunk(zc, c)), cells], dim=1))
