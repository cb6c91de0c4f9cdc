"""Code generation, the writing half: format, check, compare with disk, write atomically."""

from ._format import compile_check, format_source, import_check
from ._provenance import provenance_header, safe_docstring
from ._writer import MANIFEST, WritePlan, plan_write

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
