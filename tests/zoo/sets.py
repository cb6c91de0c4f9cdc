"""Set models: DeepSets on ``(B, N, C)`` sets under S_n, correct and with planted faults.

Plain torch modules that declare nothing: the auditor types their tensors by shape
(``Symmetry.sets``' default action: ``(B, N, ...)`` per element, ``(B, C)`` per set), and the
layer tests check those assumptions. :class:`InvariantSets` is phi (the same MLP on every
element), a pooling, and rho on the pooled vector; :class:`EquivariantSets` stacks
permutation-equivariant set layers (each element's own map plus a map of the set's mean). Faults
replace one named part: the pooling (``readout``) or a positional encoding (``pe``).
"""

from __future__ import annotations

import torch

from equidesign.symmetry import Symmetry

from ._registry import register

SIZE = 5  # elements per set: all 5! = 120 permutations are tested
CHANNELS = 3
HIDDEN = 16  # differs from SIZE: a (B, HIDDEN) tensor is read as one vector per set
BATCH = 4


class SumPool(torch.nn.Module):
    """The sum over the elements: invariant to their order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1)


class FirstElement(torch.nn.Module):
    """Fault: the 'pooling' reads the first element only; which element is first is arbitrary."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class ElementIndex(torch.nn.Module):
    """Fault: a positional encoding that adds each element's index in the set to its features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = torch.arange(x.shape[1], dtype=x.dtype, device=x.device)
        return x + 0.5 * index[None, :, None]


class SetLayer(torch.nn.Module):
    """x_i -> own(x_i) + pooled(mean_j x_j): equivariant to any reordering of the elements."""

    def __init__(self, a: int, b: int):
        super().__init__()
        self.own = torch.nn.Linear(a, b)
        self.pooled = torch.nn.Linear(a, b, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.own(x) + self.pooled(x.mean(dim=1, keepdim=True))


def _mlp(*sizes: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


class InvariantSets(torch.nn.Module):
    """rho(pool(phi(x))): ``(B, N, C)`` -> ``(B, 2)``."""

    def __init__(self, readout: torch.nn.Module | None = None):
        super().__init__()
        self.phi = torch.nn.Sequential(_mlp(CHANNELS, HIDDEN, HIDDEN), torch.nn.Tanh())
        self.readout = readout or SumPool()
        self.rho = _mlp(HIDDEN, 12, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rho(self.readout(self.phi(x)))


class EquivariantSets(torch.nn.Module):
    """Two set layers with a tanh between them: ``(B, N, C)`` -> ``(B, N, 2)``."""

    def __init__(self, pe: torch.nn.Module | None = None):
        super().__init__()
        self.first = SetLayer(CHANNELS, HIDDEN)
        self.act = torch.nn.Tanh()
        self.pe = pe or torch.nn.Identity()
        self.second = SetLayer(HIDDEN, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.pe(self.act(self.first(x))))


def sets(seed: int) -> torch.Tensor:
    """Random sets ``(BATCH, SIZE, CHANNELS)``, seeded."""
    return torch.randn(BATCH, SIZE, CHANNELS, generator=torch.Generator().manual_seed(3000 + seed))


def _build(seed, model_cls, out, **parts):
    torch.manual_seed(seed)
    model = model_cls(**parts).eval()
    return model, Symmetry.sets(out, size=SIZE, channels=CHANNELS), sets(seed)


# ------------------------------------------------------------------------- correct models
@register("deepsets_sum", "PASS", note="DeepSets: phi per element, a sum, rho on the sum")
def deepsets_sum(seed):
    """Correct: S_n-invariant; nothing declared, every tensor typed by its shape."""
    return _build(seed, InvariantSets, "invariant")


@register(
    "set_layers_equivariant",
    "PASS",
    note="two set layers (own map plus a map of the mean): one output per element",
)
def set_layers_equivariant(seed):
    """Correct: S_n-equivariant per-element outputs."""
    return _build(seed, EquivariantSets, "equivariant")


# ------------------------------------------------------------------------- planted faults
@register(
    "first_element_readout",
    "FAIL",
    "readout",
    "custom_layer",
    note="the readout takes the first element in place of a sum: reordering changes the output",
)
def first_element_readout(seed):
    return _build(seed, InvariantSets, "invariant", readout=FirstElement())


@register(
    "element_index_encoding",
    "FAIL",
    "pe",
    "custom_layer",
    note="each element's index added to its features: the encoding does not move with it",
)
def element_index_encoding(seed):
    return _build(seed, EquivariantSets, "equivariant", pe=ElementIndex())
