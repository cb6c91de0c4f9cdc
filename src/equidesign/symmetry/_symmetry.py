"""``Symmetry``: how a group acts on a model's inputs and outputs, per domain."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import SymmetryError
from ..groups import GroupInfo, build_rep, build_rep_list, parse_group
from ._elements import escnn_elements
from .actions import (
    Action,
    CustomAction,
    ElementSet,
    RepAction,
    TestElement,
    TrivialAction,
)

__all__ = ["Symmetry"]

InputMaker = Callable[[int, torch.Generator, torch.dtype, torch.device], Any]


@dataclass
class Symmetry:
    """How a group acts on what a model takes and returns.

    Build one with :meth:`images`, :meth:`vectors` or :meth:`custom`; the auditor reads the
    actions, the elements to test and how to make inputs from it.

    Attributes:
        name: the group's name, for reports.
        domain: ``"vector"``, ``"image2d"`` or ``"custom"``.
        in_action / out_action: the :class:`~equidesign.symmetry.actions.Action` on inputs and
            outputs (a :class:`TrivialAction` output means invariance).
    """

    name: str
    domain: str
    in_action: Action
    out_action: Action
    group: GroupInfo | None = None
    escnn_group: Any = None
    in_field_type: Any = None
    n_random: int = 8
    _element_source: Callable[[int, int], ElementSet] | None = None
    _input_maker: InputMaker | None = None
    _compose: Callable[[Any, Any], Any] | None = None
    _input_help: str = ""
    notes: list[str] = field(default_factory=list)
    _element_cache: dict = field(default_factory=dict, repr=False)
    _flows: Callable[[str, tuple | None], dict] | None = None
    _observer: Callable[[Any], None] | None = None
    _io: Any = None
    #: rewrites index tensors (edge_index) for an element that reorders what they index
    relabel: Callable[[Any, torch.Tensor], torch.Tensor] | None = None
    #: the action on an inner tensor known only by its shape (one copy's): shape -> Action
    default_action: Callable[[tuple[int, ...]], Any] | None = None
    #: point clouds: also test forces = -d(energy)/d(positions) of an invariant output
    forces: bool = False

    @property
    def io(self) -> Any:
        """How inputs are batched and split (tensors by default; PyG graphs for graph domains)."""
        if self._io is None:
            from .io import TensorIO

            self._io = TensorIO(self.in_action)
        return self._io

    def observe(self, x: Any) -> None:
        """Learn what the elements depend on from actual inputs (the size of a set)."""
        if self._observer is not None:
            self._observer(x)
            self._element_cache.clear()

    def flows(self, padding: str = "circular", reference: tuple | None = None) -> dict:
        """Continuous one-parameter flows for the Lie derivative: name ->
        :class:`~equidesign.symmetry.flows.Flow`. ``reference``: the input's spatial shape."""
        return {} if self._flows is None else self._flows(padding, reference)

    @property
    def is_continuous(self) -> bool:
        return self.group is not None and self.group.is_continuous

    # ------------------------------------------------------------------ constructors
    @classmethod
    def images(
        cls,
        group: Any,
        in_type: Any = "trivial",
        out_type: Any = "invariant",
        *,
        size: int | tuple[int, int] | None = None,
        n_random: int = 8,
    ) -> Symmetry:
        """C_n, D_n, SO(2), O(2) acting on images ``(B, C, H, W)`` (tensors or GeometricTensors).

        Args:
            group: a name (``"C4"``), a :class:`GroupInfo`, an escnn ``GSpace`` or group.
            in_type: an escnn ``FieldType`` or a representation expression (``"3 x trivial"``).
            out_type: ``"invariant"``, a ``FieldType`` or an expression for dense outputs.
            size: the spatial size of random inputs (``H`` or ``(H, W)``), when the audit makes
                them.
            n_random: Haar-random elements tested for a continuous group.
        """
        from ._images import image_symmetry

        return image_symmetry(cls, group, in_type, out_type, size=size, n_random=n_random)

    @classmethod
    def vectors(
        cls, group: Any, in_rep: Any, out_rep: Any = "invariant", *, n_random: int = 8
    ) -> Symmetry:
        """A group acting on vectors ``(B, D)`` through representations.

        Args:
            group: a name (``"D4"``, ``"icosahedral"``), a :class:`GroupInfo` or an escnn group.
            in_rep / out_rep: escnn ``Representation`` objects or expressions (``"2 x regular"``);
                ``out_rep="invariant"`` for invariant outputs.
        """
        info, G = _resolve_group(group)
        in_r = _resolve_rep(info, G, in_rep)
        in_action = RepAction(in_r)
        out_action = (
            TrivialAction() if _is_invariant(out_rep) else RepAction(_resolve_rep(info, G, out_rep))
        )

        def make(batch, gen, dtype, device):
            return torch.randn(batch, in_r.size, generator=gen, dtype=dtype).to(device)

        return cls(
            name=G.name,
            domain="vector",
            in_action=in_action,
            out_action=out_action,
            group=info,
            escnn_group=G,
            n_random=n_random,
            _element_source=lambda seed, n: escnn_elements(G, seed=seed, n_random=n),
            _input_maker=make,
            _compose=lambda g, h: g @ h,
        )

    @classmethod
    def sets(
        cls,
        out: str = "invariant",
        *,
        size: int | None = None,
        channels: int | None = None,
        n_random: int = 8,
    ) -> Symmetry:
        """S_n permuting the elements of sets ``(B, N, C)`` (axis 1).

        Args:
            out: ``"invariant"`` (one output per set) or ``"equivariant"`` (one per element,
                ``(B, N, C')``, permuted with the input).
            size, channels: N and C of random inputs, when the audit makes them.
            n_random: random permutations tested when N! is large; all N! when N <= 5.
        """
        from ._sets import set_symmetry

        return set_symmetry(cls, out, size=size, channels=channels, n_random=n_random)

    @classmethod
    def graphs(
        cls,
        node_level: bool = True,
        *,
        n_random: int = 8,
        example: Callable[[int, torch.Generator], Any] | None = None,
    ) -> Symmetry:
        """S_n permuting the nodes of PyG graphs (``Data``/``Batch``), within each graph.

        The model is called as ``model(batch)``; node features ``x`` move with the nodes,
        ``edge_index`` is relabelled, edge attributes keep their order. Outputs are node-level
        ``(N, C)`` (``node_level=True``, permuted with the nodes) or graph-level ``(B, C)``
        (invariant). ``example(batch, generator)`` lets the audit make inputs.
        """
        from ._graphs import graph_symmetry

        return graph_symmetry(cls, node_level, n_random, example)

    @classmethod
    def point_clouds(
        cls,
        irreps_in: Any = None,
        irreps_out: Any = "invariant",
        translations: bool = True,
        *,
        group: str = "E3",
        node_level: bool = False,
        permutations: bool = False,
        forces: bool = False,
        n_random: int = 8,
        example: Callable[[int, torch.Generator], Any] | None = None,
        node_attrs: dict[str, str] | None = None,
    ) -> Symmetry:
        """Rotations (and reflections for O3/E3), translations and optionally node permutations
        acting on PyG point clouds: ``pos`` (N, 3) and node features ``x`` (N, irreps_in.dim).

        Every other attribute with one row per node (atom types ``z``, charges, masks) moves with
        the nodes as an invariant; ``node_attrs`` names those that transform otherwise.

        Args:
            irreps_in: e3nn irreps of ``x`` (``None``: the model reads positions only).
            irreps_out: ``"invariant"`` or the e3nn irreps of the output.
            translations: translate the clouds too (a model of relative positions ignores them).
            group: ``"SO3"``, ``"O3"``, ``"SE3"``, ``"E3"``, ``"E3 x Sn"`` (adds permutations)
                or ``"Sn"`` (node permutations only).
            node_level: outputs are per node ``(N, dim)`` (else per graph ``(B, dim)``).
            permutations: also reorder the nodes within each graph (E3 x Sn).
            forces: the output is an energy; also test forces ``-dE/dpos`` (conservative models).
            example: ``example(batch, generator)`` makes inputs for the audit.
            node_attrs: how further node attributes transform: ``{"z": "invariant",
                "v": "1x1o"}`` (e3nn irreps, or ``"invariant"``: moved with the nodes only).
        """
        from ._points import point_cloud_symmetry

        return point_cloud_symmetry(
            cls,
            irreps_in,
            irreps_out,
            translations=translations,
            group=group,
            node_level=node_level,
            permutations=permutations,
            n_random=n_random,
            example=example,
            forces=forces,
            node_attrs=node_attrs,
        )

    @classmethod
    def custom(
        cls,
        name: str,
        sample: Callable[[int, torch.Generator], list[Any]],
        act_in: Callable[[Any, torch.Tensor], torch.Tensor],
        act_out: Callable[[Any, torch.Tensor], torch.Tensor] | None,
        *,
        compose: Callable[[Any, Any], Any] | None = None,
        identity: Any = None,
        example: Callable[[int, torch.Generator], torch.Tensor] | None = None,
        n: int = 8,
        flows: dict[str, tuple[Callable, Callable | None]] | None = None,
    ) -> Symmetry:
        """Any model: ``sample(n, generator) -> elements``, ``act_in(g, x)``, ``act_out(g, y)``.

        ``act_out=None`` means the output is invariant. ``compose(g, h)`` (the product ``g·h``)
        enables the homomorphism self-check; ``identity`` adds the identity-element self-check;
        ``example(batch, generator)`` lets the audit make inputs itself. ``flows`` maps a
        generator's name to ``(flow_in(t, x), flow_out(t, y) or None)``, differentiable in ``t``,
        for the Lie derivative.
        """
        in_action = CustomAction(act_in, name=f"{name} (input)")
        out_action = (
            TrivialAction() if act_out is None else CustomAction(act_out, f"{name} (output)")
        )

        def source(seed: int, count: int) -> ElementSet:
            gen = torch.Generator().manual_seed(seed)
            values = list(sample(count, gen))
            elements = [TestElement(label=f"g{i}", value=v) for i, v in enumerate(values)]
            if identity is not None:
                elements.insert(0, TestElement(label="identity", value=identity, identity=True))
            return ElementSet(elements, exhaustive=False, note=f"{len(values)} sampled elements")

        maker = None
        if example is not None:

            def maker(batch, gen, dtype, device):
                x = example(batch, gen)
                return x.to(device=device, dtype=dtype) if x.is_floating_point() else x.to(device)

        return cls(
            name=name,
            domain="custom",
            in_action=in_action,
            out_action=out_action,
            n_random=n,
            _element_source=source,
            _input_maker=maker,
            _compose=compose,
            _input_help="pass inputs= to audit, or example= to Symmetry.custom",
            _flows=(lambda padding, reference: _custom_flows(flows)) if flows else None,
        )

    # ------------------------------------------------------------------ used by the auditor
    def elements(self, seed: int = 0, n_random: int | None = None) -> ElementSet:
        """The elements to test: all of a finite group, samples of a continuous one."""
        n = self.n_random if n_random is None else n_random
        key = (seed, n)
        if key not in self._element_cache:
            self._element_cache[key] = self._element_source(seed, n)
        return self._element_cache[key]

    def example_input(
        self,
        batch: int = 2,
        seed: int = 0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Any:
        """Random inputs of the right shape for this symmetry."""
        if self._input_maker is None:
            raise SymmetryError(
                f"symmetry {self.name!r}: the input shape is unknown; {self._input_help}"
            )
        gen = torch.Generator().manual_seed(seed)
        return self._input_maker(
            batch, gen, dtype or torch.get_default_dtype(), torch.device(device or "cpu")
        )

    @property
    def can_compose(self) -> bool:
        return self._compose is not None

    def compose(self, g: TestElement, h: TestElement) -> TestElement:
        """The element ``g·h`` (for the homomorphism self-check)."""
        if self._compose is None:
            raise SymmetryError(f"symmetry {self.name!r} has no composition")
        value = self._compose(g.value, h.value)
        return TestElement(label=f"{g.label} · {h.label}", value=value, exact=g.exact and h.exact)

    def model_input(self, model: torch.nn.Module, x: Any) -> Any:
        """What the model's forward takes: escnn models take a GeometricTensor."""
        if self.in_field_type is None or not isinstance(x, torch.Tensor):
            return x
        from .._libs import escnn_nn

        enn = escnn_nn()
        if isinstance(model, enn.EquivariantModule):
            return enn.GeometricTensor(x, self.in_field_type)
        return x

    def describe(self) -> str:
        kind = "invariant" if self.out_action.is_trivial else "equivariant"
        return f"{self.name} ({kind}) on {self.domain}: in {self.in_action.describe()}; out {self.out_action.describe()}"

    @property
    def symmetry_type(self) -> str:
        return "Invariant" if self.out_action.is_trivial else "Equivariant"


# ---------------------------------------------------------------------- helpers
def _custom_flows(flows: dict) -> dict:
    from .flows import Flow

    return {name: Flow(name, act_in, act_out) for name, (act_in, act_out) in flows.items()}


def _is_invariant(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("invariant", "none")


def _resolve_group(group: Any) -> tuple[GroupInfo | None, Any]:
    """A (GroupInfo, escnn group) pair from a name, a GroupInfo, an escnn group or GSpace."""
    from .._libs import escnn_group, escnn_gspaces

    eg = escnn_group()
    if isinstance(group, (str, GroupInfo)):
        info = parse_group(group)
        return info, info.escnn_group()
    if isinstance(group, escnn_gspaces().GSpace):
        return None, group.fibergroup
    if isinstance(group, eg.Group):
        return None, group
    raise SymmetryError(
        f"group: {group!r} is not a group; pass a name such as 'D4', a GroupInfo, or an escnn group"
    )


def _resolve_rep(info: GroupInfo | None, G: Any, rep: Any) -> Any:
    from .._libs import escnn_group

    if isinstance(rep, escnn_group().Representation):
        if rep.group != G:
            raise SymmetryError(
                f"representation {rep.name!r} belongs to {rep.group.name}, not to {G.name}"
            )
        return rep
    if isinstance(rep, str):
        if info is None:
            raise SymmetryError(
                f"representation {rep!r}: names need a named group; pass escnn representations "
                f"of {G.name} instead"
            )
        return build_rep(info, rep)
    raise SymmetryError(
        f"representation: {rep!r} is not a representation; pass an escnn Representation or a "
        "name such as 'regular' or '2 x regular + irrep(1)'"
    )


def _resolve_rep_list(info: GroupInfo | None, G: Any, rep: Any) -> list[Any]:
    from .._libs import escnn_group

    if isinstance(rep, str):
        if info is None:
            raise SymmetryError(
                f"field type {rep!r}: names need a named group; pass an escnn FieldType instead"
            )
        return build_rep_list(info, rep)
    if isinstance(rep, escnn_group().Representation):
        return [rep]
    if isinstance(rep, (list, tuple)):
        return list(rep)
    raise SymmetryError(f"field type: {rep!r} is not a field type or representation expression")


def smooth_disk_noise(
    batch: int, channels: int, shape: tuple[int, ...], gen: torch.Generator, dtype
) -> torch.Tensor:
    """Gaussian noise blurred (sigma 2 px) and tapered to the inscribed disk (2D) or ball (3D).

    Rotations off the pixel grid lose the corners and interpolate; smooth, disk-supported inputs
    keep that interpolation error near 1% (cubic convolution), so the test stays sharp.
    """
    sigma = 2.0
    d = len(shape)
    x = torch.randn(batch * channels, 1, *shape, generator=gen, dtype=torch.float64)
    radius = int(3 * sigma) + 1
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    conv = torch.nn.functional.conv2d if d == 2 else torch.nn.functional.conv3d
    for axis in range(d):  # separable blur, one axis at a time
        view = [1] * d
        view[axis] = -1
        padding = [0] * d
        padding[axis] = radius
        x = conv(x, k.view(1, 1, *view), padding=tuple(padding))
    axes = [torch.arange(n, dtype=torch.float64) - (n - 1) / 2 for n in shape]
    r = torch.sqrt(sum(a**2 for a in torch.meshgrid(*axes, indexing="ij")))
    outer = (min(shape) - 1) / 2 - 1
    taper = max(1.0, min(5.0, outer / 3))
    mask = 0.5 - 0.5 * torch.cos(math.pi * ((outer - r) / taper).clamp(0, 1))
    x = x * mask
    x = x / x.std().clamp_min(1e-12)
    return x.reshape(batch, channels, *shape).to(dtype)


def integer_matrix(m: np.ndarray) -> bool:
    return bool(np.allclose(m, np.round(m), atol=1e-9))


def grid_exact_subgroup(G: Any, gspace: Any) -> list[Any]:
    """Elements of a continuous planar group that the pixel grid carries exactly."""
    name = type(G).__name__
    quarter = [k * math.pi / 2 for k in range(4)]
    if name in ("SO3", "O3"):
        # the 24 rotations of the cube (signed permutation matrices, det +1); O(3) adds -I
        cube = [
            m
            for p in itertools.permutations(range(3))
            for signs in itertools.product((1.0, -1.0), repeat=3)
            if np.linalg.det(m := np.eye(3)[list(p)] * np.array(signs)) > 0
        ]
        if name == "SO3":
            return [G.element(m, "MAT") for m in cube]
        return [G.element((f, m), "MAT") for f in (0, 1) for m in cube]
    if name == "SO2":
        return [G.element(a) for a in quarter]
    if name == "O2":
        return [G.element((f, a)) for f in (0, 1) for a in quarter]
    return [G.identity]
