r"""``Symmetry.point_clouds``: rotations, reflections, translations (and node permutations) of
point clouds in PyG batches, acting on e3nn irreps.

An element is a rigid motion :math:`p \mapsto R p + t` (``det R = -1`` for reflections, in
O(3)/E(3)) and optionally a permutation of the nodes within each graph. Node features of irreps
``I`` move by :math:`D_I(R)` (e3nn's ``Irreps.D_from_matrix``, computed in float64: the float32
Wigner matrices are only ~3e-6 accurate), positions by :math:`R p + t`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SymmetryError
from ..groups import parse_group
from ._graphs import block_perm, relabel_edges
from .actions import Action, ElementSet, TestElement, TrivialAction
from .io import GraphIO

__all__ = [
    "RigidMotion",
    "IrrepsAction",
    "PointAction",
    "NodeAction",
    "point_cloud_symmetry",
    "point_flows",
    "irreps_generators",
]


@dataclass(frozen=True, eq=False)
class RigidMotion:
    """``p -> R p + t``, then (optionally) the nodes reordered: new node i is old node perm[i]."""

    R: torch.Tensor  # (3, 3) float64
    t: torch.Tensor  # (3,) float64
    perm: torch.Tensor | None = None

    def __matmul__(self, other: RigidMotion) -> RigidMotion:
        perm = None
        if self.perm is not None or other.perm is not None:
            n = (self.perm if self.perm is not None else other.perm).numel()
            p1 = self.perm if self.perm is not None else torch.arange(n)
            p2 = other.perm if other.perm is not None else torch.arange(n)
            perm = p2[p1]  # act(a, act(b, x)) = x[p2][p1] = x[p2[p1]]
        return RigidMotion(self.R @ other.R, self.R @ other.t + self.t, perm)


def _irreps(irreps):
    from e3nn import o3

    return o3.Irreps(irreps)


_PROBES = None


def _probe_points() -> torch.Tensor:
    global _PROBES
    if _PROBES is None:
        gen = torch.Generator().manual_seed(12345)
        points = torch.randn(64, 3, generator=gen, dtype=torch.float64)
        _PROBES = points / points.norm(dim=1, keepdim=True)
    return _PROBES


_WIGNER: dict[tuple[int, bytes], torch.Tensor] = {}


def wigner_D(l: int, R: torch.Tensor) -> torch.Tensor:
    """The degree-l Wigner matrix of a rotation, to float64 accuracy (cached per rotation).

    e3nn's ``D_from_matrix`` goes through Euler angles and float32 constants (errors ~1e-6, which
    an audit would read as the model's); here D solves ``Y(R x) = D Y(x)`` by least squares on
    fixed points, with e3nn's polynomial spherical harmonics in float64.
    """
    from e3nn import o3

    if l == 0:
        return torch.ones(1, 1, dtype=torch.float64)
    R = R.detach().to(device="cpu", dtype=torch.float64)
    key = (l, R.numpy().tobytes())
    D = _WIGNER.get(key)
    if D is None:
        if len(_WIGNER) > 4096:
            _WIGNER.clear()
        x = _probe_points()
        Y = o3.spherical_harmonics(l, x, normalize=False)
        YR = o3.spherical_harmonics(l, x @ R.T, normalize=False)
        D = _WIGNER[key] = torch.linalg.lstsq(Y, YR).solution.T.contiguous()
    return D


def _proper_part(R: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(R0, improper)`` with ``R = -R0`` for improper R (``det R = -1``), else ``R0 = R``."""
    R = R.to(torch.float64)
    improper = bool(torch.det(R) < 0)
    return (-R if improper else R), improper


def irreps_matrix(irreps, R: torch.Tensor) -> torch.Tensor:
    """Block-diagonal D(R) of e3nn irreps; improper R = -R0 acts by the parity on each irrep."""
    R0, improper = _proper_part(R)
    blocks = []
    for mul, ir in irreps:
        D = wigner_D(ir.l, R0) * (ir.p if improper else 1)
        blocks += [D] * mul
    return torch.block_diag(*blocks) if blocks else torch.zeros(0, 0, dtype=torch.float64)


class IrrepsAction(Action):
    """e3nn irreps on the last axis: ``x -> x D(R)^T`` (rows are nodes, edges or graphs).

    Applied block by block: each ``mul x (l, p)`` block moves by its own ``(2l+1)``-dimensional
    Wigner matrix (even scalars not at all), never by the dense block-diagonal ``D(R)``.
    """

    def __init__(self, irreps):
        self.irreps = _irreps(irreps)
        self.size = self.irreps.dim
        self._blocks = [
            (sl.start, sl.stop, mul, ir.l, ir.p)
            for (mul, ir), sl in zip(self.irreps, self.irreps.slices(), strict=True)
            if mul > 0
        ]

    def matrices(self, elements: Sequence[TestElement]) -> torch.Tensor:
        """The dense ``(G, dim, dim)`` matrices (for callers that need them whole)."""
        return torch.stack([irreps_matrix(self.irreps, e.value.R) for e in elements])

    def check(self, x: torch.Tensor) -> None:
        if x.shape[-1] != self.size:
            raise SymmetryError(
                f"features of shape {tuple(x.shape)}: the irreps {self.irreps} have dimension "
                f"{self.size}"
            )

    def apply(self, elements, x):
        self.check(x)
        G, lead = len(elements), x.shape[:-1]
        rows = x.reshape(-1, self.size)
        n = rows.shape[0]
        proper = [_proper_part(e.value.R) for e in elements]
        out = torch.empty(n, G, self.size, dtype=x.dtype, device=x.device)
        for start, stop, mul, l, p in self._blocks:
            block = rows[:, start:stop]
            signs = [p if improper else 1 for _, improper in proper]
            if l == 0:
                sign = torch.tensor(signs, dtype=x.dtype, device=x.device).view(1, G, 1)
                out[:, :, start:stop] = sign * block.unsqueeze(1)
                continue
            d = 2 * l + 1
            D = torch.stack(
                [wigner_D(l, R0) * sign for (R0, _), sign in zip(proper, signs, strict=True)]
            )
            # one GEMM for all elements, W[j, g*d + i] = D[g, i, j]: batched (d x d) products
            # of tiny matrices are far slower
            W = D.permute(2, 0, 1).reshape(d, G * d).to(device=x.device, dtype=x.dtype)
            moved = (block.reshape(-1, d) @ W).view(n, mul, G, d).transpose(1, 2)
            out[:, :, start:stop] = moved.reshape(n, G, mul * d)
        return out.transpose(0, 1).reshape(G, *lead, self.size)

    def is_permutation(self) -> bool:
        return all(ir.l == 0 and ir.p == 1 for _, ir in self.irreps)

    @property
    def is_trivial(self) -> bool:
        """Even scalars ``0e`` only: every rotation and reflection leaves them alone."""
        return self.is_permutation()

    def rep_names(self) -> str:
        return str(self.irreps)

    def describe(self) -> str:
        return f"[{self.irreps}] (e3nn irreps)"


class PointAction(Action):
    """Positions ``(N, 3)``: ``p -> R p + t`` (translations leave differences unchanged)."""

    orthogonal = True  # the gradient moves by R alone

    def __init__(self, translations: bool = True):
        self.translations = translations

    def apply(self, elements, x):
        G, lead = len(elements), x.shape[:-1]
        R = torch.stack([e.value.R for e in elements]).to(device=x.device, dtype=x.dtype)
        # one GEMM for all elements (W[j, g*3 + i] = R[g, i, j]), then the element axis first
        W = R.permute(2, 0, 1).reshape(3, 3 * G)
        out = (x.reshape(-1, 3) @ W).view(-1, G, 3).transpose(0, 1).reshape(G, *lead, 3)
        if self.translations:
            t = torch.stack([e.value.t for e in elements]).to(device=x.device, dtype=x.dtype)
            out = out + t.view(len(elements), *([1] * (x.dim() - 1)), 3)
        return out

    def linear(self) -> PointAction:
        return PointAction(translations=False)

    def describe(self) -> str:
        return "positions: p -> R p" + (" + t" if self.translations else "")


class NodeAction(Action):
    """An action on node rows that also reorders the nodes when the element permutes them."""

    reorders_rows = True

    def __init__(self, inner: Action):
        self.inner = inner
        self.orthogonal = inner.orthogonal

    def apply(self, elements, x):
        moved = self.inner.apply(elements, x)
        perms = [e.value.perm for e in elements]
        if all(p is None for p in perms):
            return moved
        out = []
        for k, p in enumerate(perms):
            out.append(moved[k] if p is None else moved[k][p.to(x.device)])
        return torch.stack(out)

    def is_permutation(self) -> bool | None:
        return self.inner.is_permutation()

    def rows_fixed(self) -> Action:
        return self.inner

    def rep_names(self) -> str:
        return self.inner.rep_names()

    def describe(self) -> str:
        return f"{self.inner.describe()} per node"

    def gradient_action(self) -> Action:
        inner = self.inner.linear() if isinstance(self.inner, PointAction) else self.inner
        return NodeAction(inner)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    a, b, c, d = q
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
        ]
    )


def rigid_elements(
    seed: int,
    count: int,
    *,
    reflections: bool,
    translations: bool,
    ptr: list[int] | None,
    rotations: bool = True,
) -> ElementSet:
    """The identity and ``count`` Haar-random rotations (with reflections for O(3)/E(3)),
    random translations, and -- given graph boundaries ``ptr`` -- node permutations (every one
    of them permutes when there are no rotations: ``Sn`` alone)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    eye = torch.eye(3, dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)
    elements = [TestElement("identity", RigidMotion(eye, zero), identity=True)]
    if not rotations:  # Sn alone: the symmetry's element source makes sure ptr is known
        for k in range(count):
            perm = block_perm(ptr, gen)
            elements.append(TestElement(f"node permutation {k + 1}", RigidMotion(eye, zero, perm)))
        note = f"the identity and {count} random node permutations within each graph (seed {seed})"
        return ElementSet(elements, exhaustive=False, note=note)
    for k in range(count):
        R = torch.as_tensor(_random_rotation(rng))
        label = f"rotation {k + 1}"
        if reflections and k % 2 == 1:
            R, label = -R, f"reflection·rotation {k + 1}"
        t = torch.as_tensor(rng.normal(size=3) * 2.0) if translations else zero
        perm = None
        if ptr is not None and k % 2 == 0:
            perm = block_perm(ptr, gen)
            label += " + node permutation"
        elements.append(TestElement(label, RigidMotion(R, t, perm)))
    note = (
        f"the identity and {count} Haar-random {'O(3)' if reflections else 'SO(3)'} elements"
        + (" with translations" if translations else "")
        + (", every other one also permuting the nodes" if ptr is not None else "")
        + f" (seed {seed})"
    )
    return ElementSet(elements, exhaustive=False, note=note)


def _attribute_action(key: str, value) -> Action:
    """``node_attrs`` entry: ``"invariant"`` (moves with the nodes only) or e3nn irreps."""
    if not isinstance(value, str) or not value.strip():
        raise SymmetryError(
            f"node_attrs[{key!r}]: expected 'invariant' or e3nn irreps such as '1x1o', got "
            f"{value!r}"
        )
    if value.strip().lower() == "invariant":
        return NodeAction(TrivialAction())
    try:
        return NodeAction(IrrepsAction(value))
    except Exception as exc:  # e3nn's parser: ValueError, AssertionError
        raise SymmetryError(
            f"node_attrs[{key!r}]: {value!r} is not e3nn irreps ({exc}); write e.g. '1x1o' or "
            "'invariant'"
        ) from None


def point_cloud_symmetry(
    cls,
    irreps_in,
    irreps_out,
    *,
    translations,
    group,
    node_level,
    permutations,
    n_random,
    example,
    forces,
    node_attrs=None,
):
    info = parse_group(group)
    kinds = {f.kind for f in info.factors} if info.is_product else {info.kind}
    if not kinds & {"so3", "o3", "se3", "e3", "sn"}:
        raise SymmetryError(
            f"group: {group!r} does not act on point clouds; use SO3, O3, SE3, E3, 'E3 x Sn' or "
            "Sn (node permutations only)"
        )
    rotations = bool(kinds & {"so3", "o3", "se3", "e3"})
    reflections = bool(kinds & {"o3", "e3"})
    permutations = permutations or "sn" in kinds
    translations = translations and rotations
    feat = NodeAction(IrrepsAction(irreps_in)) if irreps_in is not None else None
    pos = NodeAction(PointAction(translations=translations))
    out_inner = TrivialAction() if irreps_out in (None, "invariant") else IrrepsAction(irreps_out)
    state: dict = {"ptr": None}

    def observe(x):
        batch = GraphIO._batch(x)
        state["ptr"] = [int(v) for v in batch.ptr]

    def source(seed, count):
        ptr = state["ptr"] if permutations else None
        if permutations and ptr is None:
            raise SymmetryError("Symmetry.point_clouds: pass inputs= (a PyG Data or Batch)")
        return rigid_elements(
            seed,
            count,
            reflections=reflections,
            translations=translations,
            ptr=ptr,
            rotations=rotations,
        )

    node_actions = {"pos": pos}
    if feat is not None:
        node_actions["x"] = feat
    for key, value in (node_attrs or {}).items():
        if key in ("pos", "x", "batch", "ptr", "edge_index"):
            raise SymmetryError(
                f"node_attrs: {key!r} is not a free attribute (pos and x follow irreps_in; "
                "batch, ptr and edge_index are the graph's structure); remove it"
            )
        node_actions[key] = _attribute_action(key, value)
    maker = None
    if example is not None:

        def maker(batch, gen, dtype, device):
            return GraphIO(node_actions).to(example(batch, gen), device, dtype)

    def relabel(element, index):
        return (
            index
            if element.value.perm is None
            else relabel_edges(TestElement(element.label, element.value.perm), index)
        )

    out_action = NodeAction(out_inner) if node_level else out_inner
    sym = cls(
        name=info.name,
        domain="point_cloud",
        in_action=feat if feat is not None else pos,
        out_action=out_action,
        group=info,
        _flows=lambda padding, reference: (
            point_flows(
                irreps_in,
                None if irreps_out in (None, "invariant") else irreps_out,
                translations,
                attrs={
                    k: a.inner.irreps
                    for k, a in node_actions.items()
                    if isinstance(getattr(a, "inner", None), IrrepsAction) and k != "x"
                },
            )
            if rotations
            else {}
        ),
        n_random=n_random,
        _element_source=source,
        _input_maker=maker,
        _compose=lambda g, h: g @ h,
        _input_help="pass inputs= (a torch_geometric Data or Batch with pos and x) to audit",
    )
    sym._observer = observe
    sym._io = GraphIO(
        node_actions,
        relabel=relabel,
        primary="x" if feat is not None else "pos",
        perm=lambda element: element.value.perm,
    )
    sym.relabel = relabel
    sym.forces = forces
    return sym


# ------------------------------------------------------------------------- Lie derivative
#: so(3) generators: the rotation about axis k is exp(t L_k), L_k v = e_k x v
_AXES = "xyz"


def _so3_generator(k: int) -> torch.Tensor:
    L = torch.zeros(3, 3, dtype=torch.float64)
    i, j = [(1, 2), (2, 0), (0, 1)][k]
    L[j, i], L[i, j] = 1.0, -1.0
    return L


def irreps_generators(irreps) -> torch.Tensor:
    """``(3, dim, dim)`` float64: how the rotation generators act on e3nn irreps (block diagonal
    of e3nn's ``so3_generators(l)``, computed in float64; their exponentials are this module's
    Wigner matrices)."""
    from e3nn import o3

    irreps = _irreps(irreps)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its change of basis in the default
    try:
        blocks = [
            o3.so3_generators(ir.l).to(torch.float64) for mul, ir in irreps for _ in range(mul)
        ]
    finally:
        torch.set_default_dtype(default)
    if not blocks:
        return torch.zeros(3, 0, 0, dtype=torch.float64)
    return torch.stack([torch.block_diag(*[b[k] for b in blocks]) for k in range(3)])


def point_flows(irreps_in, irreps_out, translations: bool = True, attrs=None) -> dict:
    """Rotations about x, y, z (and translations along them): :class:`~.flows.Flow` objects
    whose velocities are dicts of node attributes (``pos``, ``x``, and the ``attrs`` that carry
    irreps) of a PyG batch."""
    from .flows import Flow

    gens_in = None if irreps_in is None else irreps_generators(irreps_in)
    gens_attrs = {k: irreps_generators(v) for k, v in (attrs or {}).items()}
    gens_out = None if irreps_out is None else irreps_generators(irreps_out)

    def rotation(k):
        L = _so3_generator(k)

        def v_in(batch):
            pos = batch.pos
            out = {"pos": pos @ L.to(pos).T}
            if gens_in is not None and "x" in batch.keys():
                out["x"] = batch.x @ gens_in[k].to(batch.x).T
            for key, gens in gens_attrs.items():
                if key in batch.keys():
                    out[key] = batch[key] @ gens[k].to(batch[key]).T
            return out

        def v_out(y):
            return y @ gens_out[k].to(y).T

        moves = gens_out is not None
        return Flow(
            f"rotate_{_AXES[k]}",
            None,
            v_out if moves else None,
            v_in,
            v_out if moves else None,
            "radians",
        )

    def translation(k):
        def v_in(batch):
            v = torch.zeros_like(batch.pos)
            v[:, k] = 1.0
            return {"pos": v}

        return Flow(f"translate_{_AXES[k]}", None, None, v_in, None, "length")

    flows = {f"rotate_{_AXES[k]}": rotation(k) for k in range(3)}
    if translations:
        flows.update({f"translate_{_AXES[k]}": translation(k) for k in range(3)})
    return flows
