"""Expansion of e3nn tensor-product message passing (SO3/O3/SE3/E3 point clouds, E3 x Sn
molecules).

Each interaction: spherical harmonics of the relative positions (up to ``L_MAX``), a radial basis
of the edge lengths with a smooth cutoff, weights from an MLP of that basis, a
``FullyConnectedTensorProduct`` of neighbour features with the harmonics, a sum over neighbours,
a self-interaction ``o3.Linear``, then a ``Gate`` (scalars through SiLU/tanh, higher irreps
scaled by sigmoid gates). Outputs: invariant ``0e`` sums per graph, or per-node irreps.
"""

from __future__ import annotations

from typing import Any

from ..errors import DesignError
from ..groups import parse_rep_expr
from ._common import base_plan, output_decision, output_dim, per_output
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_e3nn", "L_MAX", "MAX_RADIUS", "NUM_BASIS", "DEFAULT_POINTS"]

L_MAX = 2
MAX_RADIUS = 2.5
NUM_BASIS = 8
DEFAULT_POINTS = 12


def _irreps_of(expr: str, atom_types: int | None) -> str:
    """Node-feature irreps from the spec: one-hot atom types, or the input representation."""
    if atom_types:
        return f"{atom_types}x0e"
    parts = []
    for term in parse_rep_expr(expr):
        atom = "0e" if term.atom == "trivial" else term.atom
        parts.append(f"{term.count}x{atom}")
    return "+".join(parts)


def _hidden(width: int, parity: bool) -> tuple[str, str, str, str]:
    """(scalars, gates, gated, hidden irreps after the gate) for a width.

    Without reflections in the group (SO3/SE3) the hidden features also carry odd scalars
    ``0o`` and pseudovectors ``1e``: products such as ``1e x 1o -> 0o`` let the model tell a
    shape from its mirror image, which it may since the group does not identify them.
    """
    vec, ten = max(1, width // 2), max(1, width // 4)
    if parity:
        scalars, gated = f"{width}x0e", f"{vec}x1o+{ten}x2e"
        n_gated = vec + ten
    else:
        scalars, gated = f"{width}x0e+{vec}x0o", f"{vec}x1o+{vec}x1e+{ten}x2e"
        n_gated = 2 * vec + ten
    gates = f"{n_gated}x0e"
    return scalars, gates, gated, f"{scalars}+{gated}"


def _flip_parity(irreps: str) -> str:
    """'4x0e+1x1o' -> '4x0o+1x1e'."""
    terms = []
    for term in irreps.split("+"):
        mul, ir = term.split("x")
        terms.append(f"{mul}x{ir[:-1]}{'o' if ir[-1] == 'e' else 'e'}")
    return "+".join(terms)


def _check_forces(spec: Any) -> None:
    terms = parse_rep_expr(spec.output.representation or "1o")
    if [(t.count, t.atom) for t in terms] != [(1, "1o")]:
        raise DesignError(
            f"output.representation: {spec.output.representation!r}: forces are one l=1 vector "
            "per atom; use 'representation: 1x1o'"
        )


def expand_e3nn(spec: Any, rule: Rule) -> ArchitecturePlan:
    group = spec.group_info
    kinds = {f.kind for f in group.factors} if group.is_product else {group.kind}
    parity = bool(kinds & {"o3", "e3"})
    width, depth = spec.constraints.width, spec.constraints.depth
    irreps_in = _irreps_of(spec.input.representation, spec.input.atom_types)
    task = spec.task.kind
    conservative = (
        bool(getattr(spec.task, "conservative", None)) if task == "energy_forces" else False
    )
    equivariant = spec.output.type == "equivariant"
    if task == "forces":
        _check_forces(spec)
        irreps_out, node_level = "1x1o", True
    elif task == "energy_forces" and not conservative:
        irreps_out, node_level = "1x0e+1x1o", True
    elif task == "energy_forces":
        irreps_out, node_level = "1x0e", False
    else:  # node- or graph-level: one copy of output.representation per class or target
        node_level = task == "node_regression"
        irreps_out = _irreps_of(per_output(spec), None) if equivariant else f"{output_dim(spec)}x0e"
    scalars, gates, gated, hidden = _hidden(width, parity)
    out_dim = sum(
        # "3x12o" -> 3 copies of degree 12: the degree is everything before the parity letter
        int(m) * (2 * int(ir.strip()[:-1]) + 1)
        for m, ir in (t.split("x") for t in irreps_out.split("+"))
    )
    plan = base_plan(spec, rule, output_repr=irreps_out, out_dim=out_dim, extra={})
    plan.input_repr = irreps_in
    plan.input_size = [spec.input.size or DEFAULT_POINTS]
    sh = "+".join(f"1x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(L_MAX + 1))
    layers = [
        LayerPlan(
            name="edges",
            kind="EdgeVectors",
            role="geometry",
            in_repr="positions",
            out_repr="1x1o",
            why="relative positions: translations cancel, rotations act by R; edges from a "
            "dense radius graph (torch.cdist), since PyG's radius_graph needs torch-cluster or "
            "pyg-lib, not installable with pip here",
        ),
        LayerPlan(
            name="sh",
            kind="SphericalHarmonics",
            role="geometry",
            in_repr="1x1o",
            out_repr=sh,
            why="spherical harmonics transform by Wigner matrices",
        ),
        LayerPlan(
            name="radial",
            kind="RadialEmbedding",
            role="geometry",
            in_repr="1x1o",
            out_repr=f"{NUM_BASIS}x0e",
            why="functions of the edge length are invariant",
        ),
    ]
    prev = irreps_in
    for i in range(depth):
        layers.append(
            LayerPlan(
                name=f"interactions.{i}",
                kind="Interaction",
                role="message passing",
                in_repr=prev,
                out_repr=f"{scalars}+{gates}+{gated}",
                why="tensor products with spherical harmonics, weights from edge "
                "lengths only: equivariant by construction",
            )
        )
        layers.append(
            LayerPlan(
                name=f"gates.{i}",
                kind="Gate",
                role="nonlinearity",
                in_repr=f"{scalars}+{gates}+{gated}",
                out_repr=hidden,
                why="pointwise functions only on scalars; higher irreps are scaled "
                "by invariant gates",
            )
        )
        prev = hidden
    # without reflections in the group, each output irrep also gets its mirror-parity twin
    # (0e <-> 0o, 1o <-> 1e): rotations act on both alike, and their sum depends on handedness
    flipped = _flip_parity(irreps_out) if not parity else ""
    layers.append(
        LayerPlan(
            name="output",
            kind="Interaction",
            role="output",
            in_repr=prev,
            out_repr=f"{irreps_out}+{flipped}" if flipped else irreps_out,
            why="a last equivariant interaction onto the output irreps",
        )
    )
    if flipped:
        layers.append(
            LayerPlan(
                name="merge_parity",
                kind="MergeParity",
                role="output",
                in_repr=f"{irreps_out}+{flipped}",
                out_repr=irreps_out,
                why="rotations act alike on an irrep and its mirror twin: their sum is "
                "equivariant under SO(3) and tells a shape from its mirror image",
            )
        )
    if not node_level:
        layers.append(
            LayerPlan(
                name="pool",
                kind="SumPool",
                role="invariant pooling",
                in_repr=irreps_out,
                out_repr=irreps_out,
                why="a sum over the nodes of each graph ignores their order; rotations act "
                "on every node's irreps alike, so the sum transforms by the same irreps",
            )
        )
    plan.layers = layers
    plan.decisions += [
        Decision(
            topic="irreps",
            choice=f"hidden [{hidden}], spherical harmonics up to l={L_MAX}",
            rule="band-limited irreps for continuous rotations",
            why="l <= 2 carries directions and quadrupoles; parity "
            + ("tracked (O3/E3)" if parity else "free: odd scalars 0o let the model see chirality"),
        ),
        Decision(
            topic="geometry",
            choice=f"radius graph with cutoff {MAX_RADIUS} (dense, torch.cdist), {NUM_BASIS} "
            "smooth radial basis functions",
            rule="E3: relative positions only",
            why="translations cancel in relative positions; a smooth cutoff keeps the model "
            "continuous as atoms enter and leave the neighbourhood. The graph is built densely "
            "(O(N^2) per batch) because PyG's radius_graph needs torch-cluster or pyg-lib, which "
            "pip cannot install for this torch",
        ),
        Decision(
            topic="output",
            choice=(
                "energy per graph; forces = -dE/dpos (conservative)"
                if conservative
                else f"[{irreps_out}] per node"
                if node_level
                else f"[{irreps_out}] summed per graph"
            ),
            rule="energies are invariant, forces are l=1 vectors",
            why="summing node contributions is permutation invariant"
            + ("; gradients of an invariant energy are equivariant forces" if conservative else ""),
        ),
    ]
    if equivariant and task not in ("forces", "energy_forces"):
        plan.decisions.append(output_decision(spec, irreps_out))
    plan.options = {
        "conservative": conservative,
        "direct_forces": task == "energy_forces" and not conservative,
        "merge_parity": bool(flipped),
        "node_level": node_level,
        "parity": parity,
        "l_max": L_MAX,
        "max_radius": MAX_RADIUS,
        "num_basis": NUM_BASIS,
        "scalars": scalars,
        "gates": gates,
        "gated": gated,
        "atom_types": spec.input.atom_types or 0,
        "permutations": "sn" in kinds,
    }
    return plan
