"""The planted-fault zoo: small models with a known fault at a known layer, and correct twins.

``ZOO`` maps a name to a :class:`ZooEntry`; every auditor check has at least one entry whose
fault it must catch (``tests/auditor/test_zoo.py``), and ``test_zoo_oracle.py`` proves, with
escnn's own transforms and without the auditor, that each fault is real and sits where the entry
says.
"""

from ._registry import ZOO, ZooEntry

__all__ = ["ZOO", "ZooEntry"]
