"""DCGAN-style generator and critic for P x P maps (P a power of two, 16 to 512), conditioned on the
cosmological parameters.

Both networks work at resolutions 4, 8, ..., P with 3x3 convolutions and circular padding, because
the maps are periodic (slabs of a periodic box). The generator goes up by nearest-neighbour
upsampling followed by convolutions (no transposed-convolution checkerboards), with pixel
normalisation; the critic goes down by stride-2 4x4 convolutions and has no normalisation layer
that mixes the samples of a batch, as the gradient penalties require.

Conditioning: generator "concat" appends the (standardised) parameters as constant channels to the
input of every block, "film" scales and shifts every block's features by learned functions of them;
critic "concat" appends them as channels to the input map, "projection" adds the inner product of a
parameter embedding with the final features (Miyato & Koyama 2018).

With ``power_features`` the critic also sees the log band powers of its input map (with the parameters,
through a dense layer added to its final features): the largest scales hold a handful of modes each, which
convolutions see late; Perraudin et al. 2019 gave their N-body critic power-spectrum features for this.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from surrogate.cosmology.band_power import LogBandPower
from surrogate.errors import SurrogateError

#: Map sides the networks accept: every power of two from 16 (three resolutions) to 512.
MAP_SIZES = tuple(2**power for power in range(4, 10))
_MIN_CHANNELS = 32
_SLOPE = 0.2


def resolutions(map_size: int) -> list[int]:
    """4, 8, ..., map_size; a SurrogateError unless map_size is one of MAP_SIZES."""
    if map_size not in MAP_SIZES:
        raise SurrogateError(f"map networks need square maps whose side is a power of two from {MAP_SIZES[0]} to "
                             f"{MAP_SIZES[-1]} pixels, not {map_size} (simulate nbody --map-size)")
    return [4 * 2**level for level in range(int(math.log2(map_size // 4)) + 1)]


def channels_at(resolution: int, width: int) -> int:
    """``width`` channels at 4x4, halving with each doubling of resolution, at least 32."""
    return max(_MIN_CHANNELS, width * 4 // resolution)


def _conv(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=1, padding_mode="circular")


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit mean square (per sample, no batch statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class _GeneratorBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, n_conditions: int, convs: int, conditioning: str):
        super().__init__()
        self.conditioning = conditioning
        extra = n_conditions if conditioning == "concat" else 0
        layers = []
        for index in range(convs):
            layers += [_conv((in_channels + extra) if index == 0 else out_channels, out_channels),
                       nn.LeakyReLU(_SLOPE), PixelNorm()]
        self.body = nn.Sequential(*layers)
        self.film = nn.Linear(n_conditions, 2 * out_channels) if conditioning == "film" else None

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.conditioning == "concat":
            h = torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[-2:])], dim=1)
        h = self.body(h)
        if self.film is not None:
            scale, shift = self.film(c).chunk(2, dim=1)
            h = h * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]
        return h


class MapGenerator(nn.Module):
    """z (N, latent_dim) and standardised parameters c (N, C) -> maps (N, 1, P, P) in network space.

    ``head`` is "tanh" (outputs in (-1, 1), for the s(x) transform) or "linear" (for the log transform).
    """

    def __init__(self, latent_dim: int, n_conditions: int, map_size: int, *, width: int = 256,
                 convs_per_block: int = 2, conditioning: str = "concat", head: str = "tanh"):
        super().__init__()
        sizes = resolutions(map_size)
        self.latent_dim = latent_dim
        self.first_channels = channels_at(4, width)
        self.stem = nn.Sequential(nn.Linear(latent_dim + n_conditions, self.first_channels * 16), nn.LeakyReLU(_SLOPE))
        self.blocks = nn.ModuleList()
        previous = self.first_channels
        for resolution in sizes:
            out = channels_at(resolution, width)
            self.blocks.append(_GeneratorBlock(previous, out, n_conditions, convs_per_block, conditioning))
            previous = out
        self.to_map = _conv(previous, 1)
        self.head = nn.Tanh() if head == "tanh" else nn.Identity()

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.stem(torch.cat([z, c], dim=1)).view(len(z), self.first_channels, 4, 4)
        for index, block in enumerate(self.blocks):
            if index:
                h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
            h = block(h, c)
        return self.head(self.to_map(h))


class MapCritic(nn.Module):
    """Maps (N, 1, P, P) and standardised parameters c (N, C) -> scores (N,)."""

    def __init__(self, n_conditions: int, map_size: int, *, width: int = 256, convs_per_block: int = 2,
                 conditioning: str = "concat", power_features: bool = False):
        super().__init__()
        sizes = resolutions(map_size)[::-1]
        self.conditioning = conditioning
        extra = n_conditions if conditioning == "concat" else 0
        channels = channels_at(sizes[0], width)
        self.from_map = nn.Sequential(_conv(1 + extra, channels), nn.LeakyReLU(_SLOPE))
        layers = []
        for resolution in sizes[:-1]:
            out = channels_at(resolution // 2, width)
            for _ in range(convs_per_block - 1):
                layers += [_conv(channels, channels), nn.LeakyReLU(_SLOPE)]
            layers += [_conv(channels, out, kernel=4, stride=2), nn.LeakyReLU(_SLOPE)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(channels * 16, width), nn.LeakyReLU(_SLOPE))
        self.score = nn.Linear(width, 1)
        self.embed = nn.Linear(n_conditions, width, bias=False) if conditioning == "projection" else None
        self.band_power = LogBandPower(map_size) if power_features else None
        self.from_power = (nn.Sequential(nn.Linear(self.band_power.bands + n_conditions, width), nn.LeakyReLU(_SLOPE))
                           if power_features else None)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        maps = x
        if self.conditioning == "concat":
            x = torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[-2:])], dim=1)
        h = self.features(self.body(self.from_map(x)))
        if self.band_power is not None:
            h = h + self.from_power(torch.cat([self.band_power(maps[:, 0]), c], dim=1))
        score = self.score(h).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(c) * h).sum(dim=1)
        return score
