"""Every attribute of a PyG batch goes where the group sends it: per-node attributes (atom types,
charges, masks) with the nodes, edges with their edges, graph attributes with their graphs;
attributes set on a Batch after batching survive the re-batching; declared node attributes
transform by their irreps."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

import equidesign as eqd
from equidesign.errors import SymmetryError
from equidesign.spec import load_symmetry_spec


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for n in (4, 5):
        z = torch.randint(0, 9, (n,), generator=gen)
        edge_index = torch.tensor([[i, (i + 1) % n] for i in range(n)]).T
        graphs.append(
            Data(
                pos=torch.randn(n, 3, generator=gen),
                z=z,
                q=torch.randn(n, generator=gen),
                v=torch.randn(n, 3, generator=gen),
                edge_index=edge_index,
                edge_attr=torch.randn(n, 2, generator=gen),
                y=torch.randn(1, generator=gen),
            )
        )
    return Batch.from_data_list(graphs)


def _moved(sym, x):
    sym.observe(x)
    elements = sym.elements(0).elements
    return elements, sym.io.stack(x, elements[1:])


def test_node_attributes_move_with_the_nodes():
    x = _batch()
    sym = eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn", node_attrs={"v": "1x1o"})
    elements, stacked = _moved(sym, x)
    n, m = x.num_nodes, x.edge_index.shape[1]
    for k, e in enumerate(elements[1:], start=1):
        perm = e.value.perm if e.value.perm is not None else torch.arange(n)
        R = e.value.R.to(torch.float32)
        rows = slice(k * n, (k + 1) * n)
        assert torch.equal(stacked.z[rows], x.z[perm])
        assert torch.equal(stacked.q[rows], x.q[perm])
        torch.testing.assert_close(stacked.v[rows], (x.v @ R.T)[perm], atol=1e-5, rtol=1e-5)
        assert torch.equal(stacked.edge_attr[k * m : (k + 1) * m], x.edge_attr)
        # the edges are relabelled: the same bonds between the same atoms
        edges = stacked.edge_index[:, k * m : (k + 1) * m] - k * n
        assert torch.equal(perm[edges], x.edge_index)
    assert torch.equal(stacked.y, x.y.repeat(len(elements)))
    assert stacked.num_graphs == x.num_graphs * len(elements)
    assert sym.io.placement(x) == {
        "declared": ["pos", "v"],
        "invariant": ["q", "z"],
        "other": [],
    }


def test_an_attribute_set_after_batching_is_kept():
    x = _batch()
    x.mask = torch.arange(x.num_nodes) % 2 == 0  # not in the Batch's slices
    sym = eqd.Symmetry.graphs()
    x.x = torch.randn(x.num_nodes, 2)
    elements, stacked = _moved(sym, x)
    assert stacked.mask.shape[0] == x.num_nodes * len(elements)
    for k, e in enumerate(elements[1:], start=1):
        rows = slice(k * x.num_nodes, (k + 1) * x.num_nodes)
        assert torch.equal(stacked.mask[rows], x.mask[e.value])
    # and the stacked batch still comes apart into its graphs
    assert len(stacked.to_data_list()) == x.num_graphs * len(elements)


def test_an_attribute_the_symmetry_cannot_place_is_named():
    x = _batch()
    x.lattice = torch.randn(7, 3)  # neither per node, per edge nor per graph
    sym = eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn")
    assert sym.io.placement(x)["other"] == ["lattice"]


def test_graphs_without_x_get_a_one_line_error():
    x = _batch()
    sym = eqd.Symmetry.graphs()
    with pytest.raises(SymmetryError, match="no node features 'x'") as info:
        eqd.audit(torch.nn.Identity(), sym, inputs=x)
    assert "\n" not in str(info.value)


def test_node_attrs_are_checked():
    with pytest.raises(SymmetryError, match=r"node_attrs\['v'\]"):
        eqd.Symmetry.point_clouds(None, group="E3", node_attrs={"v": "vector"})
    with pytest.raises(SymmetryError, match="not a free attribute"):
        eqd.Symmetry.point_clouds(None, group="E3", node_attrs={"pos": "1x1o"})


def test_permutations_alone_on_point_clouds():
    x = _batch()
    sym = eqd.Symmetry.point_clouds(None, "invariant", group="Sn")
    elements, stacked = _moved(sym, x)
    assert not sym.is_continuous
    assert all(e.value.perm is not None for e in elements[1:])
    n = x.num_nodes
    for k, e in enumerate(elements[1:], start=1):  # positions are reordered, not moved
        assert torch.equal(stacked.pos[k * n : (k + 1) * n], x.pos[e.value.perm])

    class AbsolutePositions(torch.nn.Module):  # invariant to permutations, not to rotations
        def forward(self, batch):
            from torch_geometric.nn import global_add_pool

            return global_add_pool(batch.pos, batch.batch)

    assert eqd.audit(AbsolutePositions(), sym, inputs=x).verdict == "PASS"
    rigid = eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn")
    assert eqd.audit(AbsolutePositions(), rigid, inputs=x).verdict == "FAIL"


def test_the_symmetry_file_turns_translations_off():
    spec = load_symmetry_spec(
        {"domain": "point_cloud", "group": "SO3", "input": "none", "translations": False}
    )
    sym = spec.symmetry()
    x = _batch()
    sym.observe(x)
    assert all(float(e.value.t.abs().max()) == 0 for e in sym.elements(0).elements)
    assert "translate_x" not in sym.flows()
    on = load_symmetry_spec({"domain": "point_cloud", "group": "SO3", "input": "none"}).symmetry()
    assert "translate_x" in on.flows()


def test_translations_in_the_symmetry_file_are_for_point_clouds():
    from equidesign.errors import SpecError

    with pytest.raises(SpecError, match="translations"):
        load_symmetry_spec({"domain": "vector", "group": "C4", "translations": False})


def test_declared_node_attributes_move_in_the_lie_derivative():
    """A per-node vector attribute declared 1x1o turns with the rotation flows: a model that
    returns it has Lie derivative zero; declared invariant, the same model has one."""

    class ReturnsV(torch.nn.Module):
        def forward(self, batch):
            return batch.v

    x = _batch()
    turning = eqd.Symmetry.point_clouds(
        None, "1x1o", group="SO3", node_level=True, node_attrs={"v": "1x1o"}
    )
    still = eqd.Symmetry.point_clouds(
        None, "1x1o", group="SO3", node_level=True, node_attrs={"v": "invariant"}
    )
    moving = eqd.lie_derivative(ReturnsV(), turning, x)
    fixed = eqd.lie_derivative(ReturnsV(), still, x)
    assert max(moving[f"rotate_{a}"].lee for a in "xyz") < 1e-6
    assert min(fixed[f"rotate_{a}"].lee for a in "xyz") > 1e-2
