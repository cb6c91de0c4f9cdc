r"""One-parameter flows of the plane acting on images, differentiable in the parameter.

A flow :math:`\phi_t` moves points of the plane; an image is transformed by
:math:`(T_t x)(p) = x(\phi_{-t}(p))`. The five generators of the Lie derivative paper:

============  ======================================  ==================
generator     :math:`\phi_t(p)`                       unit of ``t``
============  ======================================  ==================
translate_x   :math:`p + t\,e_x`                      one pixel
translate_y   :math:`p + t\,e_y`                      one pixel
rotate        rotation by :math:`t` about the centre  radian
shear         :math:`(x + t y, y)`                    --
scale         :math:`e^{t} p`                         log-scale
============  ======================================  ==================

Coordinates are taken relative to the image extent (``[-1, 1]``, as ``grid_sample`` with
``align_corners=False``), so the same flow acts consistently on feature maps of any resolution
(a translation by one input pixel is half a pixel after a stride-2 layer).

Resampling uses gathers with cubic-convolution weights (Keys, a = -0.5): its derivative at the
grid points is the central difference, forward-mode AD (``torch.func.jvp``) goes through it,
and the padding at the border -- ``circular``, ``reflection`` or ``zeros`` -- is explicit.
"""

from __future__ import annotations

import itertools

import torch

__all__ = [
    "IMAGE_GENERATORS",
    "Flow",
    "image_flow",
    "image_flows",
    "image_velocity",
    "resample_points",
]

IMAGE_GENERATORS = ("translate_x", "translate_y", "rotate", "shear", "scale")
PADDINGS = ("circular", "reflection", "zeros")


def _grid(shape: tuple[int, int], dtype, device) -> torch.Tensor:
    """Normalised (x, y) of every pixel centre, y up: ``(H, W, 2)``."""
    H, W = shape
    x = (2 * torch.arange(W, dtype=dtype, device=device) + 1) / W - 1
    y = -((2 * torch.arange(H, dtype=dtype, device=device) + 1) / H - 1)
    return torch.stack(torch.meshgrid(x, y, indexing="xy"), -1)


def _inverse_flow(name: str, t: torch.Tensor, p: torch.Tensor, shape) -> torch.Tensor:
    """phi_{-t}(p) for the named generator (normalised coordinates)."""
    H, W = shape
    x, y = p[..., 0], p[..., 1]
    if name == "translate_x":
        return torch.stack([x - t * 2 / W, y], -1)
    if name == "translate_y":
        return torch.stack([x, y - t * 2 / H], -1)
    if name == "rotate":
        c, s = torch.cos(t), torch.sin(t)
        # rotation by -t; the aspect ratio is kept by rotating in pixel units
        px, py = x * W / 2, y * H / 2
        return torch.stack([(c * px + s * py) * 2 / W, (-s * px + c * py) * 2 / H], -1)
    if name == "shear":
        return torch.stack([x - t * y * H / W, y], -1)
    if name == "scale":
        return p * torch.exp(-t)
    raise ValueError(f"unknown generator {name!r}; use one of {', '.join(IMAGE_GENERATORS)}")


def _tap_weights(f: torch.Tensor, a: float = -0.5) -> list[torch.Tensor]:
    """Keys' cubic weights of the taps at offsets -1, 0, 1, 2 for a fraction ``f`` in [0, 1).

    Each tap's distance falls in a known piece of the kernel, so the weights are plain
    polynomials (no branches: cheap under forward-mode AD).
    """

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 <= |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(1 + f), near(f), near(1 - f), far(2 - f)]


def _wrap(index: torch.Tensor, n: int, padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Valid indices and a mask of taps that exist (zeros padding drops the others)."""
    if padding == "circular":
        return index.remainder(n), torch.ones_like(index, dtype=torch.bool)
    if padding == "reflection":
        period = 2 * n
        m = index.remainder(period)
        return torch.where(m >= n, period - 1 - m, m), torch.ones_like(index, dtype=torch.bool)
    valid = (index >= 0) & (index < n)
    return index.clamp(0, n - 1), valid


def resample_points(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, padding: str):
    """``x`` (..., H, W) sampled at fractional (row, col) positions ``(H', W')``, cubic weights."""
    if padding not in PADDINGS:
        raise ValueError(f"padding {padding!r}: use one of {', '.join(PADDINGS)}")
    H, W = x.shape[-2:]
    flat = x.reshape(*x.shape[:-2], H * W)
    r0, c0 = rows.detach().floor(), cols.detach().floor()
    fr, fc = rows - r0, cols - c0
    wr, wc = _tap_weights(fr), _tap_weights(fc)
    out = 0
    for (i, dr), (j, dc) in itertools.product(enumerate((-1, 0, 1, 2)), repeat=2):
        ri, rvalid = _wrap(r0.long() + dr, H, padding)
        ci, cvalid = _wrap(c0.long() + dc, W, padding)
        w = wr[i] * wc[j]
        if padding == "zeros":
            w = w * (rvalid & cvalid).to(fr.dtype)
        taps = flat[..., (ri * W + ci).reshape(-1)].reshape(*x.shape[:-2], *rows.shape)
        out = out + taps * w
    return out


def image_flow(name: str, t: torch.Tensor, x: torch.Tensor, padding: str = "circular"):
    """``T_t x`` for images ``(..., H, W)``: the image moved by the flow of ``name``."""
    H, W = x.shape[-2:]
    p = _grid((H, W), t.dtype if t.is_floating_point() else x.dtype, x.device)
    src = _inverse_flow(name, t.to(p.dtype), p, (H, W))
    cols = ((src[..., 0] + 1) * W - 1) / 2
    rows = ((1 - src[..., 1]) * H - 1) / 2
    return resample_points(x, rows.to(x.dtype), cols.to(x.dtype), padding)


def unit(name: str) -> str:
    return {"translate_x": "pixel", "translate_y": "pixel", "rotate": "radian"}.get(name, "unit")


def _central(z: torch.Tensor, dim: int, padding: str) -> torch.Tensor:
    """(z[i+1] - z[i-1]) / 2 along ``dim``: the cubic kernel's derivative at the grid points."""
    n = z.shape[dim]
    if padding == "circular":
        return (torch.roll(z, -1, dim) - torch.roll(z, 1, dim)) / 2
    idx = torch.arange(n, device=z.device)
    ahead, behind = idx + 1, idx - 1
    if padding == "reflection":
        ahead, behind = ahead.clamp(max=n - 1), behind.clamp(min=0)
        return (z.index_select(dim, ahead) - z.index_select(dim, behind)) / 2
    zero = torch.zeros_like(z.narrow(dim, 0, 1))
    up = torch.cat([z.narrow(dim, 1, n - 1), zero], dim)
    down = torch.cat([zero, z.narrow(dim, 0, n - 1)], dim)
    return (up - down) / 2


def image_gradients(
    z: torch.Tensor, padding: str = "circular"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences along columns and rows: every image velocity combines these two."""
    return _central(z, -1, padding), _central(z, -2, padding)


def velocity_fields(
    name: str, shape: tuple[int, int], reference: tuple[int, int] | None, dtype, device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The flow's velocity in index units (column, row) on a grid of ``shape``."""
    H, W = shape
    RH, RW = reference or (H, W)
    rows = torch.arange(H, dtype=dtype, device=device) - (H - 1) / 2  # = -y in pixels
    cols = torch.arange(W, dtype=dtype, device=device) - (W - 1) / 2  # = x in pixels
    x_pix, y_pix = cols.view(1, W), -rows.view(H, 1)
    if name == "translate_x":
        return torch.full((1, 1), W / RW, dtype=dtype, device=device), None
    if name == "translate_y":
        return None, torch.full((1, 1), -H / RH, dtype=dtype, device=device)
    if name == "rotate":
        return -y_pix, -x_pix
    if name == "shear":
        return y_pix, None
    if name == "scale":
        return x_pix, -y_pix
    raise ValueError(f"unknown generator {name!r}; use one of {', '.join(IMAGE_GENERATORS)}")


def velocity_from_gradients(name, grads, reference=None) -> torch.Tensor:
    """``-(d_col v_col + d_row v_row)``: the map's velocity from its central differences."""
    d_col, d_row = grads
    v_col, v_row = velocity_fields(name, d_col.shape[-2:], reference, d_col.dtype, d_col.device)
    if v_col is not None and v_row is not None:
        return -torch.addcmul(d_col * v_col, d_row, v_row)
    if v_col is not None:
        return d_col * (-v_col) if v_col.numel() > 1 else d_col * float(-v_col)
    return d_row * (-v_row) if v_row.numel() > 1 else d_row * float(-v_row)


def image_velocity(
    name: str, z: torch.Tensor, padding: str = "circular", reference: tuple[int, int] | None = None
) -> torch.Tensor:
    """``d/dt T_t z`` at ``t = 0`` for maps ``(..., H, W)``, exactly what ``jvp`` through
    :func:`image_flow` gives, without differentiating the resampling.

    ``reference``: the (H, W) whose pixel is the unit of translations (the model's input), so
    that a translation by one input pixel moves a stride-2 feature map by half a pixel.
    """
    return velocity_from_gradients(name, image_gradients(z, padding), reference)


class Flow:
    """A one-parameter flow acting on a model's inputs and (when they move) its outputs.

    ``velocity_in(x)`` / ``velocity_out(y)`` are ``d/dt`` of the action at ``t = 0``. Image
    flows give them in closed form (:func:`image_velocity`, plus the fibre generator of escnn
    field types); user flows get them by forward-mode AD through ``act(t, x)``. ``undefined``:
    why the flow has no action on the symmetry's inputs or outputs (its Lie derivative is then
    skipped with this reason, not reported as a number).
    """

    def __init__(
        self,
        name,
        act_in,
        act_out=None,
        velocity_in=None,
        velocity_out=None,
        unit="",
        undefined: str | None = None,
    ):
        self.name = name
        self.act_in = act_in
        self.act_out = act_out
        self._vin = velocity_in
        self._vout = velocity_out
        self.unit = unit
        self.undefined = undefined

    @property
    def moves_output(self) -> bool:
        return self.act_out is not None

    @staticmethod
    def _jvp_at_zero(act, z):
        from torch.func import jvp

        t0 = torch.zeros((), dtype=z.dtype if z.is_floating_point() else torch.float32)
        with torch.no_grad():
            return jvp(lambda t: act(t, z), (t0,), (torch.ones_like(t0),))[1]

    def velocity_in(self, x: torch.Tensor) -> torch.Tensor:
        return self._vin(x) if self._vin is not None else self._jvp_at_zero(self.act_in, x)

    def velocity_out(self, y: torch.Tensor) -> torch.Tensor:
        if self.act_out is None:
            return torch.zeros_like(y)
        return self._vout(y) if self._vout is not None else self._jvp_at_zero(self.act_out, y)


def image_flows(
    padding: str,
    moves_output: bool,
    reference: tuple[int, int] | None,
    in_type=None,
    out_type=None,
) -> dict:
    """The five image generators as :class:`Flow` objects.

    ``in_type`` / ``out_type``: escnn field types of the input and (spatial) output, whose fibres
    turn with rotations (None: scalar channels). A generator with no action on one of them
    (a rotation of C_n regular fields, a shear of vector fields) is returned with ``undefined``
    set to the reason.
    """
    from functools import partial

    from ._fibres import fibre_action

    flows = {}
    for name in IMAGE_GENERATORS:
        fin = fibre_action(in_type, name, "input")
        fout = fibre_action(out_type if moves_output else None, name, "output")
        undefined = fin.undefined or fout.undefined
        act_in = partial(_act, name, padding, fin)
        act_out = partial(_act, name, padding, fout)
        flows[name] = Flow(
            name,
            act_in,
            act_out if moves_output else None,
            partial(_velocity, name, padding, reference, fin),
            partial(_velocity, name, padding, reference, fout) if moves_output else None,
            unit(name),
            undefined=undefined,
        )
    return flows


def _act(name, padding, fibre, t, x):
    moved = image_flow(name, t, x, padding)
    turn = fibre.exp(t) if fibre is not None else None
    if turn is None:
        return moved
    return torch.movedim(torch.movedim(moved, -3, -1) @ turn.to(moved.dtype).T, -1, -3)


def _velocity(name, padding, reference, fibre, z):
    v = image_velocity(name, z, padding, reference)
    turn = fibre.velocity(z) if fibre is not None else None
    return v if turn is None else v + turn
