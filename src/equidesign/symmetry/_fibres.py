r"""How a one-parameter flow of the plane acts on the fibres of an escnn field.

A field of type :math:`\rho` moves under a rotation :math:`R_t` by
:math:`(T_t y)(p) = \rho(R_t)\, y(R_{-t} p)`: besides the spatial motion, every fibre turns.
Its velocity at :math:`t = 0` is :math:`d\rho\, y + (\text{spatial part})`, with the generator
:math:`d\rho = \tfrac{d}{dt}\rho(R_t)|_{t=0}`. For the irreps of SO(2) and O(2) of rotation
frequency :math:`k`, :math:`d\rho` is :math:`k` times the 90° generator
:math:`\begin{psmallmatrix}0 & -1\\ 1 & 0\end{psmallmatrix}`; a representation is a direct sum of
irreps in escnn's change of basis :math:`Q`, so :math:`d\rho = Q\,(\oplus_i d\psi_i)\,Q^{-1}`.

Finite groups (C_n, D_n) have no continuous rotations: a field on which their rotations act
non-trivially (regular fields, 2-dimensional irreps) has no fibre action of an infinitesimal
rotation, and a Lie derivative along ``rotate`` is not defined on it. Translations never touch the
fibres. Shear and scale are not in any of these groups: they are defined on fields whose fibres
rotations leave alone (scalars, pseudo-scalars) and on no other.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["FibreAction", "fibre_action"]

_SPATIAL_ONLY = ("translate_x", "translate_y")


class FibreAction:
    """What generator ``name`` does to the fibres of one field type.

    ``matrix`` is the ``(C, C)`` generator on the channel axis (None: fibres do not move);
    ``undefined`` says why the generator has no action on these fibres (then ``matrix`` is None).
    """

    def __init__(self, matrix: torch.Tensor | None = None, undefined: str | None = None):
        self.matrix = matrix
        self.undefined = undefined

    def velocity(self, z: torch.Tensor, channel_dim: int = -3) -> torch.Tensor | None:
        """``dρ z`` on the channel axis of maps ``(B, C, H, W)``, or None when fibres hold still."""
        if self.matrix is None:
            return None
        M = self.matrix.to(device=z.device, dtype=z.dtype)
        return torch.movedim(
            torch.tensordot(torch.movedim(z, channel_dim, -1), M, dims=([-1], [1])), -1, channel_dim
        )

    def exp(self, t: torch.Tensor) -> torch.Tensor | None:
        """``exp(t dρ)``: the finite fibre action (None when fibres hold still)."""
        if self.matrix is None:
            return None
        return torch.linalg.matrix_exp(t * self.matrix.to(t.dtype))


_CACHE: dict = {}


def fibre_action(field_type, name: str, where: str = "field") -> FibreAction:
    """The action of generator ``name`` on the fibres of an escnn ``FieldType`` (None: scalars,
    a plain tensor's channels). ``where`` names the field in the reason when it is undefined."""
    if field_type is None or name in _SPATIAL_ONLY:
        return FibreAction()
    key = (id(field_type), name, where)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is field_type:
        return hit[1]
    action = _compute(field_type, name, where)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = (field_type, action)
    return action


def _rotation_angle(gspace, element) -> float | None:
    M = np.asarray(gspace.basespace_action(element), dtype=float)
    if M.shape != (2, 2) or np.linalg.det(M) < 0:
        return None
    return math.atan2(M[1, 0], M[0, 0])


def _smallest_rotation(gspace):
    """The finite group's rotation by the smallest positive angle (C_n: 360°/n)."""
    best = None
    for e in gspace.fibergroup.elements:
        a = _rotation_angle(gspace, e)
        if a is not None and a > 1e-9 and (best is None or a < best[0]):
            best = (a, e)
    return best


def _continuous_rotation(gspace, theta: float):
    G = gspace.fibergroup
    return G.element((0, theta)) if type(G).__name__ == "O2" else G.element(theta)


def _irrep_generator(G, gspace, irrep_id) -> np.ndarray:
    """d/dt psi(R_t) at t = 0 for an irrep of SO(2)/O(2), from its rotation frequency."""
    psi = G.irrep(*irrep_id)
    k = int(psi.attributes.get("frequency", 0))
    if psi.size == 1 or k == 0:
        return np.zeros((psi.size, psi.size))
    # psi(R_theta) is the rotation by +-k theta: read the orientation off one small angle
    theta = 0.25 / k
    M = np.asarray(psi(_continuous_rotation(gspace, theta)))
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    sign = 1.0 if M[1, 0] > 0 else -1.0
    if not np.allclose(M, np.cos(k * theta) * np.eye(2) + sign * np.sin(k * theta) * J, atol=1e-9):
        raise ValueError(f"irrep {psi.name} is not a planar rotation of frequency {k}")
    return sign * k * J


def _describe(field_type) -> str:
    names = [r.name for r in field_type.representations]
    if len(set(names)) == 1:
        return f"{len(names)} x {names[0]}" if len(names) > 1 else names[0]
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")


def _compute(field_type, name: str, where: str) -> FibreAction:
    gspace = field_type.gspace
    G = gspace.fibergroup
    fields = f"the {where} fields [{_describe(field_type)}]"
    if G.order() > 0:  # a finite group: do its rotations leave these fibres alone?
        smallest = _smallest_rotation(gspace)
        if smallest is None:  # only flips (or the trivial group): rotations act trivially
            return FibreAction()
        angle, r = smallest
        rho = np.asarray(field_type.representation(r))
        if np.allclose(rho, np.eye(rho.shape[0]), atol=1e-9):
            return FibreAction()
        step = 360 / round(2 * math.pi / angle)
        what = "an infinitesimal rotation" if name == "rotate" else f"the {name} flow"
        return FibreAction(
            undefined=f"{fields} of {G.name} turn only in {step:g}° steps: {what} has no action "
            "on their fibres (the Lie derivative needs scalar/trivial fields, or SO2/O2 irreps "
            "for rotations)"
        )
    blocks = []
    for rep in field_type.representations:
        gens = [_irrep_generator(G, gspace, i) for i in rep.irreps]
        D = _block_diag(gens)
        Q, Qinv = np.asarray(rep.change_of_basis), np.asarray(rep.change_of_basis_inv)
        blocks.append(Q @ D @ Qinv)
    matrix = _block_diag(blocks)
    if not np.any(np.abs(matrix) > 1e-12):
        return FibreAction()
    if name != "rotate":
        return FibreAction(
            undefined=f"{fields} turn with rotations, and {G.name} defines no action of the "
            f"{name} flow on them (it is not in the group); the Lie derivative along {name} is "
            "defined on scalar fields only"
        )
    return FibreAction(torch.as_tensor(matrix, dtype=torch.float64))


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        k = b.shape[0]
        out[i : i + k, i : i + k] = b
        i += k
    return out
