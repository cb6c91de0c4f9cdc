"""compile_check and import_check: generated code compiles and imports on its own."""

from __future__ import annotations

import inspect
import sys
import types

import pytest

from equidesign.codegen import compile_check, import_check
from equidesign.errors import CodegenError, EquidesignError

NAME = "equidesign_test_generated"


def test_compile_check_accepts_valid_code():
    compile_check("x = 1\n", "model.py")


def test_compile_check_names_the_file_the_line_and_the_template():
    with pytest.raises(CodegenError) as info:
        compile_check("x = 1\ny = (\n", "model.py", template="gcnn_escnn.py.j2")
    message = str(info.value)
    assert message.startswith("generated model.py does not compile: line 2: ")
    assert message.endswith(
        "— this is a bug in equidesign's template gcnn_escnn.py.j2, please report it"
    )


def test_compile_check_without_a_template_still_says_it_is_a_bug():
    with pytest.raises(CodegenError, match=r"line 1: .*bug in equidesign's templates"):
        compile_check("def f(:\n", "model.py")


def test_compile_check_refuses_null_bytes():
    with pytest.raises(CodegenError, match="model.py does not compile"):
        compile_check("x = 1\x00\n", "model.py")


def test_import_check_runs_the_module_without_leaving_it_in_sys_modules():
    module = import_check("import sys\nVALUE = 41 + 1\nSEEN = __name__ in sys.modules\n", NAME)
    assert isinstance(module, types.ModuleType) and module.__name__ == NAME
    assert module.VALUE == 42 and module.SEEN  # registered while its body ran ...
    assert NAME not in sys.modules  # ... and only then


def test_import_check_puts_back_a_module_of_the_same_name(monkeypatch):
    previous = types.ModuleType(NAME)
    monkeypatch.setitem(sys.modules, NAME, previous)
    fresh = import_check("VALUE = 1\n", NAME)
    assert sys.modules[NAME] is previous and fresh is not previous


def test_import_check_gives_fresh_modules():
    first = import_check("ITEMS = []\n", NAME)
    first.ITEMS.append(1)
    assert import_check("ITEMS = []\n", NAME).ITEMS == []


def test_import_check_supports_dataclasses():
    code = (
        "from __future__ import annotations\n"
        "import dataclasses\n\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int = 0\n"
    )
    assert import_check(code, NAME).Point(x=3).x == 3


def test_import_check_does_not_inherit_future_flags():
    # the checker's own module uses postponed annotations; generated code must not get them
    code = "def f(x: NotDefinedAnywhere) -> None:\n    pass\n"
    with pytest.raises(CodegenError, match="line 1: NameError: name 'NotDefinedAnywhere'"):
        import_check(code, NAME)


def test_import_check_needs_no_names_from_equidesign():
    with pytest.raises(CodegenError, match="NameError: name 'CodegenError'"):
        import_check("ERR = CodegenError\n", NAME)


def test_an_error_in_the_module_body_is_a_codegen_error_with_its_line():
    with pytest.raises(CodegenError) as info:
        import_check("x = 1\ny = 1 / 0\n", NAME, template="t.py.j2")
    message = str(info.value)
    assert f"generated module {NAME} failed to import: line 2: ZeroDivisionError" in message
    assert "template t.py.j2" in message
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_missing_package_is_a_user_error_naming_it():
    with pytest.raises(EquidesignError) as info:
        import_check("import equidesign_no_such_package.nn\n", NAME)
    assert not isinstance(info.value, CodegenError)
    assert str(info.value).endswith(
        "imports equidesign_no_such_package, which is not installed: "
        "install it (pip install equidesign_no_such_package)"
    )


def test_import_check_reports_syntax_errors_with_the_line():
    with pytest.raises(CodegenError, match="does not compile: line 3"):
        import_check("a = 1\nb = 2\nc = (\n", NAME)


def test_generated_source_is_visible_to_inspect_and_tracebacks():
    code = "def double(x):\n    return 2 * x\n\ndef fail():\n    raise RuntimeError('boom')\n"
    module = import_check(code, NAME)
    assert inspect.getsource(module.double) == "def double(x):\n    return 2 * x\n"
    with pytest.raises(RuntimeError) as info:
        module.fail()
    assert "raise RuntimeError('boom')" in str(info.getrepr())


@pytest.mark.parametrize("name", ["", "a-b", "x\ny", "1abc", "a..b"])
def test_import_check_refuses_odd_module_names(name):
    with pytest.raises(CodegenError, match="dotted Python name"):
        import_check("x = 1\n", name)
