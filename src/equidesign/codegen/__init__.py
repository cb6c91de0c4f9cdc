"""Code generation, the writing half: format, check, compare with disk, write atomically.

Rendering (templates and the view models that fill them) lives in :mod:`equidesign.templates`;
this package turns rendered text into files: :func:`format_source` formats it,
:func:`compile_check` and :func:`import_check` prove it compiles and imports on its own,
:func:`provenance_header` and :func:`safe_docstring` build its header and docstring, and
:func:`plan_write` compares it with the output folder before :meth:`WritePlan.execute` writes.
Nothing here imports torch.
"""

from ._checks import compile_check, import_check
from ._docstring import safe_docstring
from ._format import format_source
from ._manifest import MANIFEST
from ._provenance import provenance_header
from ._writer import WritePlan, plan_write

__all__ = [
    "MANIFEST",
    "WritePlan",
    "compile_check",
    "format_source",
    "import_check",
    "plan_write",
    "provenance_header",
    "safe_docstring",
]
