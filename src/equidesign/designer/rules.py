"""The selection guide as data: which architecture family and library for which group and domain.

Each :class:`Rule` names its conditions (group kinds, domains, optionally tasks), the family and
library it picks, a one-line rationale, and ranked alternatives with their trade-offs. A
:class:`Refusal` names a combination that makes no sense, with the reason and a suggestion.
:func:`select_rule` walks the table in order; ``equidesign explain`` prints the rule it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DesignError
from ..groups import GroupInfo

__all__ = ["Alternative", "Rule", "Refusal", "RULES", "REFUSALS", "select_rule", "group_tags"]

_PLANAR_FINITE = frozenset({"cyclic", "dihedral"})
_PLANAR_CONTINUOUS = frozenset({"so2", "o2"})
_SPATIAL_3D = frozenset({"so3", "o3", "octa", "ico", "full_octa", "full_ico", "tetra"})
_EUCLIDEAN_3D = frozenset({"so3", "o3", "se3", "e3"})
_FINITE = frozenset({"cyclic", "dihedral", "tetra", "octa", "ico", "full_octa", "full_ico"})
#: tags of groups beyond one kind: escnn's direct products of finite groups (C2 x D4), and a
#: permutation group of fixed size (S3), which escnn does not have
FINITE_PRODUCT = "finite_product"
FIXED_PERMUTATIONS = "fixed_permutations"
_ALL_DOMAINS = frozenset({"vector", "image2d", "image3d", "point_cloud", "graph", "set"})


@dataclass(frozen=True)
class Alternative:
    family: str
    library: str
    tradeoff: str


@dataclass(frozen=True)
class Rule:
    """One row of the selection table."""

    name: str
    groups: frozenset[str]  # group kinds (GroupInfo.kind, or "E3xSn" style product tags)
    domains: frozenset[str]
    family: str
    library: str
    rationale: str
    template: str | None  # the template that renders it; None: not available yet
    tasks: frozenset[str] = frozenset()  # empty: any task
    alternatives: tuple[Alternative, ...] = field(default=())

    def matches(self, tags: frozenset[str], domain: str, task: str) -> bool:
        return (
            bool(self.groups & tags)
            and domain in self.domains
            and (not self.tasks or task in self.tasks)
        )


@dataclass(frozen=True)
class Refusal:
    """A combination that makes no sense, refused with the reason and a suggestion."""

    groups: frozenset[str]
    domains: frozenset[str]
    reason: str
    suggestion: str

    def matches(self, tags: frozenset[str], domain: str) -> bool:
        return bool(self.groups & tags) and domain in self.domains


RULES: tuple[Rule, ...] = (
    Rule(
        name="finite-planar-images",
        groups=_PLANAR_FINITE,
        domains=frozenset({"image2d"}),
        family="regular-field G-CNN",
        library="escnn",
        rationale="C_n and D_n act on the pixel grid; regular fields make pointwise ReLU and "
        "max/avg pooling exact, and escnn's R2Conv solves the kernel constraint",
        template="gcnn_escnn",
        alternatives=(
            Alternative(
                "steerable CNN on irreps",
                "escnn",
                "fewer channels per field, but needs norm/gated nonlinearities",
            ),
            Alternative(
                "plain CNN with rotation augmentation",
                "torch",
                "simplest; equivariance only approximate and learned",
            ),
        ),
    ),
    Rule(
        name="continuous-planar-images",
        groups=_PLANAR_CONTINUOUS,
        domains=frozenset({"image2d"}),
        family="steerable CNN (band-limited irreps)",
        library="escnn",
        rationale="SO(2)/O(2) have no finite regular representation; band-limited irreps with "
        "Fourier, norm or gated nonlinearities approximate all rotations",
        template="steerable_escnn",
        alternatives=(
            Alternative(
                "regular-field G-CNN on C_N (N = 8 or 16)",
                "escnn",
                "exact for the N rotations, pointwise nonlinearities; other angles approximate",
            ),
        ),
    ),
    Rule(
        name="spatial-3d-voxels",
        groups=_SPATIAL_3D,
        domains=frozenset({"image3d"}),
        family="3D steerable CNN",
        library="escnn",
        rationale="rotations of R^3 act on voxel grids through escnn's R3Conv steerable kernels",
        template="voxels_escnn",
        alternatives=(
            Alternative("octahedral regular-field CNN", "escnn", "exact on the voxel grid"),
        ),
    ),
    Rule(
        name="molecules",
        groups=frozenset({"E3xSn", "SE3xSn", "O3xSn", "SO3xSn"}),
        domains=frozenset({"point_cloud"}),
        family="E(3)-equivariant message passing (energy invariant, forces l=1)",
        library="e3nn + torch_geometric",
        rationale="atoms are a set (S_n) in 3D space (E(3)): messages built from spherical "
        "harmonics of relative positions and tensor products",
        template="e3nn_points",
        alternatives=(
            Alternative("SchNet-style invariant network", "torch_geometric", "distances only"),
        ),
    ),
    Rule(
        name="euclidean-point-clouds",
        groups=_EUCLIDEAN_3D,
        domains=frozenset({"point_cloud"}),
        family="tensor-product GNN with gates",
        library="e3nn",
        rationale="irreps, spherical harmonics and tensor products give exact O(3) equivariance "
        "on points; relative positions give translations",
        template="e3nn_points",
        alternatives=(
            Alternative("EGNN (scalar-vector messages)", "torch", "cheaper; vectors only (l<=1)"),
        ),
    ),
    Rule(
        name="graphs",
        groups=frozenset({"sn"}),
        domains=frozenset({"graph"}),
        family="message-passing GNN",
        library="torch_geometric",
        rationale="aggregating over neighbours with a symmetric function commutes with node "
        "permutations (GIN: as expressive as the 1-WL test)",
        template="gnn_pyg",
        alternatives=(Alternative("graph transformer", "torch_geometric", "global attention"),),
    ),
    Rule(
        name="sets",
        groups=frozenset({"sn"}),
        domains=frozenset({"set"}),
        family="DeepSets",
        library="torch",
        rationale="a per-element network, a symmetric sum and a readout are exactly "
        "permutation invariant; per-element outputs use equivariant set layers",
        template="deepsets_torch",
        alternatives=(Alternative("set transformer", "torch", "attention between elements"),),
    ),
    Rule(
        name="finite-vectors",
        groups=_FINITE | {FINITE_PRODUCT},
        domains=frozenset({"vector"}),
        family="equivariant MLP of projected eLinear layers",
        library="symm-learning",
        rationale="for any finite group acting on vectors, linear layers projected onto "
        "Hom_G(rho_in, rho_out) with regular hidden representations are exact",
        template="emlp_symm_learning",
        alternatives=(
            Alternative("escnn.nn.Linear on FieldTypes", "escnn", "same maps, escnn's basis"),
            Alternative(
                "invariant-feature MLP",
                "torch",
                "map to invariants first; loses equivariant outputs",
            ),
        ),
    ),
)

REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        groups=frozenset({"tetra"}),
        domains=_ALL_DOMAINS,
        reason="escnn does not implement the tetrahedral group (its octahedral group raises "
        "NotImplementedError for the tetrahedral subgroup), so no layer can be built for it",
        suggestion="use octahedral, which contains its 12 rotations (a model equivariant to the "
        "24 rotations of the cube is equivariant to them too)",
    ),
    Refusal(
        groups=frozenset({FIXED_PERMUTATIONS}),
        domains=frozenset({"vector"}),
        reason="escnn has no symmetric groups, so no projected layer can be built for S<n> "
        "acting on a vector",
        suggestion="S2 is C2, S3 is D3 (its permutations of 3 coordinates are quotient(D1) of "
        "D3) and S4 is octahedral; for more elements use domain set with group Sn",
    ),
    Refusal(
        groups=frozenset({FINITE_PRODUCT}),
        domains=_ALL_DOMAINS - {"vector"},
        reason="escnn's direct products of finite groups act on vectors only here: no pixel "
        "grid, voxel grid, point cloud or set has their action",
        suggestion="use domain vector, or one factor (C<n>, D<n>, octahedral, ...) for images",
    ),
    Refusal(
        groups=_EUCLIDEAN_3D | _SPATIAL_3D,
        domains=frozenset({"image2d"}),
        reason="rotations of 3D space do not act on a 2D pixel grid",
        suggestion="use C<n>, D<n>, SO2 or O2 for 2D images, or domain image3d / point_cloud "
        "for 3D data",
    ),
    Refusal(
        groups=_PLANAR_FINITE | _PLANAR_CONTINUOUS,
        domains=frozenset({"image3d", "point_cloud"}),
        reason="planar rotations and reflections do not act on 3D data",
        suggestion="use SO3, O3, octahedral or icosahedral for 3D data, or domain image2d",
    ),
    Refusal(
        groups=frozenset({"sn"}),
        domains=frozenset({"image2d", "image3d", "vector"}),
        reason="permutations of nodes or set elements do not act on pixel grids or fixed vectors",
        suggestion="use domain set or graph for S_n, or a geometric group for images",
    ),
    Refusal(
        groups=_FINITE | _PLANAR_CONTINUOUS | _EUCLIDEAN_3D,
        domains=frozenset({"graph", "set"}),
        reason="the symmetry of a graph or a set is the permutation group of its elements",
        suggestion="use group Sn (and domain point_cloud with E3 x Sn for geometric graphs)",
    ),
    Refusal(
        groups=frozenset({"so2", "o2", "so3", "o3", "se3", "e3"}),
        domains=frozenset({"vector"}),
        reason="the equivariant MLP of projected eLinear layers needs a finite group (regular "
        "hidden representations)",
        suggestion="use a finite subgroup (C<n>, D<n>, octahedral, icosahedral), or "
        "point_cloud with e3nn for SO3/O3",
    ),
    Refusal(
        groups=frozenset({"translations"}),
        domains=frozenset({"image2d", "image3d", "vector", "graph", "set", "point_cloud"}),
        reason="translations alone are what every CNN already has; name the rotation group too",
        suggestion="use C<n>/D<n>/SO2 (images) or SE3/E3 (point clouds), which include them",
    ),
)


def group_tags(group: GroupInfo) -> frozenset[str]:
    """Tags a rule can match: the group's kind; ``fixed_permutations`` for S<n>; for products
    a tag such as ``E3xSn``, and ``finite_product`` for those escnn builds (``C2 x D4``)."""
    if group.is_product:
        names = [f.kind.upper() if f.kind != "sn" else "Sn" for f in group.factors]
        extra = {FINITE_PRODUCT} if group.is_escnn_product else set()
        return frozenset({"x".join(names), *extra})
    if group.is_permutation and group.n is not None:
        return frozenset({group.kind, FIXED_PERMUTATIONS})
    return frozenset({group.kind})


def select_rule(group: GroupInfo, domain: str, task: str) -> Rule:
    """The first rule that matches, or a :class:`DesignError` with the reason and a suggestion."""
    tags = group_tags(group)
    for refusal in REFUSALS:
        if refusal.matches(tags, domain):
            raise DesignError(
                f"{group.name!r} on domain {domain}: {refusal.reason}; {refusal.suggestion}",
                field="group",
            )
    for rule in RULES:
        if rule.matches(tags, domain, task):
            return rule
    supported = "; ".join(
        f"{'/'.join(sorted(r.groups))} on {'/'.join(sorted(r.domains))}" for r in RULES
    )
    raise DesignError(
        f"{group.name!r} on domain {domain}: no rule in the selection table covers it; "
        f"supported: {supported}",
        field="group",
    )
