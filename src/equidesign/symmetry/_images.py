"""``Symmetry.images``: groups acting on images (2D) and voxel grids (3D) through escnn field
types. Planar groups (C_n, D_n, SO2, O2) act on images; SO3, O3 and the polyhedral groups on
voxel grids."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import SymmetryError
from ..groups import GroupInfo, parse_group
from ._elements import escnn_elements
from ._symmetry import (
    _is_invariant,
    _resolve_rep_list,
    grid_exact_subgroup,
    integer_matrix,
    smooth_disk_noise,
)
from .actions import FieldAction, TrivialAction

__all__ = ["image_symmetry", "resolve_gspace", "resolve_field_type"]


#: group kinds that act on 3D space (voxel grids); the others act on the plane
SPATIAL_3D = {"so3", "o3", "octa", "ico", "full_octa", "full_ico"}


def resolve_gspace(group: Any) -> tuple[GroupInfo | None, Any]:
    """A (GroupInfo, escnn GSpace on R^2 or R^3) pair from a name, GroupInfo, GSpace or escnn
    group."""
    from .._libs import escnn_group, escnn_gspaces

    gs = escnn_gspaces()
    if isinstance(group, (str, GroupInfo)):
        info = parse_group(group)
        return info, info.gspace(3 if info.kind in SPATIAL_3D else 2)
    if isinstance(group, gs.GSpace):
        return None, group
    if isinstance(group, escnn_group().Group):
        name = type(group).__name__
        table = {
            "CyclicGroup": lambda: gs.rot2dOnR2(N=group.order()),
            "DihedralGroup": lambda: gs.flipRot2dOnR2(N=group.order() // 2),
            "SO2": lambda: gs.rot2dOnR2(N=-1),
            "O2": lambda: gs.flipRot2dOnR2(N=-1),
            "SO3": gs.rot3dOnR3,
            "O3": gs.flipRot3dOnR3,
            "Octahedral": gs.octaOnR3,
            "Icosahedral": gs.icoOnR3,
        }
        if name in table:
            return None, table[name]()
    raise SymmetryError(
        f"group: {group!r} does not act on images; use C<n>, D<n>, SO2 or O2 on images, SO3, "
        "O3, octahedral or icosahedral on voxels (a name, or an escnn GSpace)"
    )


def resolve_field_type(info: GroupInfo | None, gspace: Any, value: Any) -> Any:
    from .._libs import escnn_nn

    enn = escnn_nn()
    if isinstance(value, enn.FieldType):
        if value.gspace != gspace:
            raise SymmetryError(
                f"field type {value} lives on {value.gspace.name}, not on {gspace.name}"
            )
        return value
    reps = _resolve_rep_list(info, gspace.fibergroup, value)
    return enn.FieldType(gspace, [_on_fibre_group(rep, gspace.fibergroup) for rep in reps])


def _on_fibre_group(rep: Any, G: Any) -> Any:
    """The representation moved onto the GSpace's fibre group.

    escnn models D1 on the plane (``flipRot2dOnR2(N=1)``) with a fibre group that is the
    reflection subgroup of O(2), a ``CyclicGroup`` of order 2, not ``dihedral_group(1)``. The two
    are isomorphic (the flip is the generator of both), so a D1 representation keeps its change
    of basis and its irreps map one to one: D1's (j, 0) is C2's (j,).
    """
    if rep.group == G:
        return rep
    from .._libs import escnn_group

    group = escnn_group()
    if not (
        isinstance(rep.group, group.DihedralGroup)
        and rep.group.order() == 2
        and isinstance(G, group.CyclicGroup)
        and G.order() == 2
    ):
        raise SymmetryError(f"representation {rep.name} is of {rep.group}, not of {G}")
    if rep.name == rep.group.regular_representation.name:
        return G.regular_representation
    irreps = [(j,) for j, _ in rep.irreps]
    if len(irreps) == 1:
        return G.irrep(*irreps[0])
    name = f"D1_{rep.name}"
    if name in G.representations:
        return G.representations[name]
    return group.Representation(
        G,
        name,
        irreps,
        rep.change_of_basis,
        supported_nonlinearities=rep.supported_nonlinearities,
    )


def image_symmetry(cls, group, in_type, out_type, *, size, n_random):
    info, gspace = resolve_gspace(group)
    G = gspace.fibergroup
    in_ft = resolve_field_type(info, gspace, in_type)
    in_action = FieldAction(in_ft)
    out_action = (
        TrivialAction()
        if _is_invariant(out_type)
        else FieldAction(resolve_field_type(info, gspace, out_type))
    )

    def exactness(values):
        return [integer_matrix(np.asarray(gspace.basespace_action(v))) for v in values]

    def source(seed, n):
        exact_sub = grid_exact_subgroup(G, gspace) if G.order() <= 0 else None
        return escnn_elements(
            G, seed=seed, n_random=n, exact_subgroup=exact_sub, exactness=exactness
        )

    has_offgrid = not all(exactness(list(G.elements))) if G.order() > 0 else True
    d = int(gspace.dimensionality)
    shape = None if size is None else ((size,) * d if isinstance(size, int) else tuple(size))
    if shape is not None and len(shape) != d:
        raise SymmetryError(
            f"size: {size!r} has {len(shape)} axes; {G.name} acts on {d}D grids: use size=N or "
            f"a list of {d} sizes"
        )

    def make(batch, gen, dtype, device):
        if shape is None:
            raise SymmetryError(
                f"Symmetry.images({G.name}): the image size is unknown; pass inputs= to audit, "
                "or size=H to Symmetry.images"
            )
        if has_offgrid:
            x = smooth_disk_noise(batch, in_ft.size, shape, gen, dtype)
        else:
            x = torch.randn(batch, in_ft.size, *shape, generator=gen, dtype=dtype)
        return x.to(device)

    spatial_out = isinstance(out_action, FieldAction)
    out_ft = out_action.field_type if spatial_out else None

    def flows(padding, reference=None):
        from .flows import image_flows

        # the field types: rotations turn the fibres of non-scalar fields too
        return image_flows(padding, spatial_out, reference or shape, in_ft, out_ft)

    return cls(
        name=G.name,
        domain=f"image{d}d",
        _flows=flows if d == 2 else None,
        in_action=in_action,
        out_action=out_action,
        group=info,
        escnn_group=G,
        in_field_type=in_ft,
        n_random=n_random,
        _element_source=source,
        _input_maker=make,
        _compose=lambda g, h: g @ h,
        _input_help="pass inputs= to audit, or size=H to Symmetry.images",
    )
