"""The e3nn point-cloud family: irreps by group, the two ways to predict forces, outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from e3nn import o3

import equidesign as eqd

SPECS = Path(__file__).parents[2] / "specs"


@pytest.fixture(scope="module")
def designs():
    names = ("se3_shape_classifier", "e3_molecule_energy_forces", "e3_molecule_direct_forces")
    return {name: eqd.design(SPECS / f"{name}.yaml") for name in names}


def _rotated(batch, R):
    moved = batch.clone()
    moved.pos = batch.pos @ R.T
    return moved


def test_parity_is_tracked_only_when_the_group_has_reflections(designs):
    rotations_only = designs["se3_shape_classifier"].plan.options
    with_reflections = designs["e3_molecule_energy_forces"].plan.options
    assert not rotations_only["parity"] and with_reflections["parity"]
    # SE(3): odd scalars and pseudovectors let the model tell a shape from its mirror image
    assert "0o" in str(rotations_only["scalars"]) and "1e" in str(rotations_only["gated"])
    assert "0o" not in str(with_reflections["scalars"])
    assert "1e" not in str(with_reflections["gated"])


def test_an_se3_model_can_tell_mirror_images_apart(designs):
    design = designs["se3_shape_classifier"]
    torch.manual_seed(3)
    model = design.build().eval()
    for p in model.parameters():  # weights far from init, so chiral paths are not negligible
        p.data.normal_()
    x = design.example_input(batch=2, seed=4)
    with torch.no_grad():
        y, y_mirror = model(x), model(_rotated(x, -torch.eye(3)))
    assert (y - y_mirror).abs().max() > 1e-3 * y.abs().max()


def test_conservative_forces_are_minus_the_energy_gradient(designs):
    design = designs["e3_molecule_energy_forces"]
    model = design.build().eval()
    x = design.example_input(batch=2, seed=1)
    energy, forces = model.energy_and_forces(x)
    assert energy.shape == (2, 1) and forces.shape == (x.num_nodes, 3)
    pos = x.pos.clone().requires_grad_(True)
    moved = x.clone()
    moved.pos = pos
    (grad,) = torch.autograd.grad(model(moved).sum(), pos)
    torch.testing.assert_close(forces, -grad)
    torch.testing.assert_close(model.forces(x), forces)
    # and they rotate with the molecule
    R = o3.rand_matrix()
    torch.testing.assert_close(model.forces(_rotated(x, R)), forces @ R.T, atol=1e-4, rtol=1e-4)


def test_conservative_forces_train_through_a_force_loss(designs):
    design = designs["e3_molecule_energy_forces"]
    model = design.build().train()
    _, forces = model.energy_and_forces(design.example_input(batch=2, seed=1))
    forces.pow(2).sum().backward()  # create_graph in training: second derivatives flow
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_direct_forces_come_from_a_second_head(designs):
    design = designs["e3_molecule_direct_forces"]
    assert design.plan.output_repr == "1x0e+1x1o" and design.plan.options["node_level"]
    model = design.build().eval()
    x = design.example_input(batch=3, seed=2)
    with torch.no_grad():
        out = model(x)
        energy, forces = model.energy_and_forces(x)
    assert out.shape == (x.num_nodes, 4)
    torch.testing.assert_close(forces, out[:, 1:])
    for g in range(3):
        torch.testing.assert_close(energy[g, 0], out[x.batch == g, 0].sum())


def test_energy_forces_specs_audit_forces_only_when_conservative(designs):
    assert designs["e3_molecule_energy_forces"].symmetry.forces
    assert not designs["e3_molecule_direct_forces"].symmetry.forces


def test_translation_and_order_of_atoms_do_not_change_the_energy(designs):
    design = designs["e3_molecule_energy_forces"]
    model = design.build().eval()
    x = design.example_input(batch=1, seed=5)
    moved = x.clone()
    perm = torch.randperm(x.num_nodes, generator=torch.Generator().manual_seed(0))
    moved.pos, moved.x = x.pos[perm] + torch.tensor([3.0, -1.0, 2.0]), x.x[perm]
    with torch.no_grad():
        torch.testing.assert_close(model(moved), model(x), atol=1e-4, rtol=1e-4)
