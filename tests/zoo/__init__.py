"""The planted-fault zoo: small models with a known fault at a known layer, and correct twins.

``ZOO`` maps a name to a :class:`ZooEntry`. ``tests/auditor/test_zoo.py`` asserts that the audit
catches, names and localises every fault; ``test_zoo_oracle.py`` proves, with escnn's own
transforms and representation matrices and without the auditor, that every correct model is
equivariant and that every fault is real and sits where its entry says.

Families: :mod:`.images` (escnn G-CNNs on images), :mod:`.vectors` (symm-learning eLinear MLPs),
:mod:`.points` (e3nn tensor-product networks on point clouds, checked by
``test_points_oracle.py`` with e3nn's own Wigner matrices), :mod:`.sets` (DeepSets under S_n)
and :mod:`.graphs` (GIN on PyG batches), checked by ``test_perm_oracle.py`` with plain index
permutations, :mod:`.so2` (SO(2) steerable CNNs on images) and :mod:`.voxels` (SO(3)
``R3Conv`` networks on voxel grids), checked by ``test_steerable_oracle.py`` with escnn's
transforms on the grid-exact rotations and at random angles.
"""

# the family modules register their entries on import
from . import graphs, images, points, sets, so2, vectors, voxels  # noqa: F401
from ._registry import ZOO, ZooEntry

__all__ = ["ZOO", "ZooEntry"]
