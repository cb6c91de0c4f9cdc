"""The pytest plugin (entry point ``pytest11``): equivariance checks in a project's own CI.

* fixture ``assert_equivariant``: :func:`equidesign.testing.assert_equivariant`
  (``dtypes=("float32", "float64")``, ``allow=("PASS",)``, audit keywords);
* ``--equidesign-specs DIR``: every ``*.yaml`` spec in DIR is collected as a test item
  (``DIR/<name>.yaml::audit``, marked ``equidesign_spec``) that designs the model, audits it in
  float32 and float64 and fails unless both pass (float32 only, with a warning that says why,
  when the design says a library layer cannot run in float64). Without path arguments only these items are
  collected; with path arguments they are collected beside the tests found there;
* marker ``@pytest.mark.equidesign_specs("specs/")`` on a test that takes the fixture
  ``equidesign_spec``: the test runs once per spec of the folder (relative to the rootdir), and
  the spec is audited after the test body (or when the body calls ``equidesign_spec.check()``,
  which returns the reports);
* baselines: ``DIR/<name>.audit.json`` (float32) and ``DIR/<name>.audit.float64.json``; when one
  exists, that dtype's audit is compared with it (:func:`equidesign.compare`, growth tolerance
  ``--equidesign-tolerance``, default 10) and a regression fails the test.
  ``--equidesign-update-baselines`` writes them instead of comparing.

Nothing heavy is imported until a check runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

__all__ = ["SpecAudit", "SpecItem", "SpecFile", "baseline_path"]

DTYPES = ("float32", "float64")
MARKER = "equidesign_specs"


#: specs audited in float32 only this session, and why (listed in the terminal summary)
FLOAT32_ONLY: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter):
    if FLOAT32_ONLY:
        terminalreporter.section("equidesign: audited in float32 only")
        for name, reason in sorted(FLOAT32_ONLY.items()):
            terminalreporter.write_line(f"{name}: float64 audit not run: {reason}")


def pytest_addoption(parser):
    group = parser.getgroup("equidesign")
    group.addoption(
        "--equidesign-specs",
        action="append",
        default=[],
        metavar="DIR",
        help="audit the model of every equidesign spec (*.yaml) in DIR as a test item",
    )
    group.addoption(
        "--equidesign-tolerance",
        type=float,
        default=10.0,
        help="error growth against a stored <spec>.audit.json that counts as a regression",
    )
    group.addoption(
        "--equidesign-update-baselines",
        action="store_true",
        default=False,
        help="write <spec>.audit.json / <spec>.audit.float64.json instead of comparing",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "equidesign_spec: an equidesign spec audited as a test")
    config.addinivalue_line(
        "markers",
        f"{MARKER}(folder): run the test once per equidesign spec in folder (relative to the "
        "rootdir) with the fixture equidesign_spec, and audit that spec",
    )
    base = Path(config.invocation_params.dir)
    folders = []
    for folder in config.getoption("--equidesign-specs"):
        path = (base / folder).resolve()
        if not path.is_dir():
            raise pytest.UsageError(f"--equidesign-specs: {folder} is not a folder")
        folders.append(path)
    config._equidesign_folders = folders
    if not folders:
        return
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(f) for f in folders]  # no paths given: the spec audits alone
        return
    given = [(base / a.split("::")[0]).resolve() for a in config.args]
    for f in folders:  # paths given: add the folders they do not reach
        if not any(f == g or g in f.parents for g in given):
            config.args.append(str(f))


def pytest_collect_file(file_path: Path, parent):
    folders = getattr(parent.config, "_equidesign_folders", [])
    if file_path.suffix == ".yaml" and file_path.resolve().parent in folders:
        return SpecFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def assert_equivariant():
    """``assert_equivariant(model, symmetry, inputs=None, dtypes=(...), allow=(...), **audit)``."""
    from .testing import assert_equivariant as check

    return check


def baseline_path(spec: Path, dtype: str) -> Path:
    """Where the baseline audit of ``spec`` in ``dtype`` lives, beside the spec."""
    suffix = ".audit.json" if dtype == "float32" else f".audit.{dtype}.json"
    return spec.with_name(spec.stem + suffix)


class SpecAudit:
    """One spec's audit: design, audit in float32 and float64, compare or update baselines."""

    def __init__(self, spec_path: Path, config):
        self.path = Path(spec_path)
        self.tolerance = config.getoption("--equidesign-tolerance")
        self.update = config.getoption("--equidesign-update-baselines")
        self.reports: list | None = None

    def check(self) -> list:
        """Audit the spec's model; raise ``AssertionError`` on a failing audit or a regression.
        Returns the reports (float32, float64; float32 alone for a float32-only design). Runs once; later calls return the same."""
        __tracebackhide__ = True
        if self.reports is not None:
            return self.reports
        import torch

        import equidesign as eqd

        design = eqd.design(self.path)
        model = design.build()
        dtypes = DTYPES
        reason = design.plan.options.get("float32_only")
        if reason:  # a library layer that cannot run in float64: said, not hidden
            dtypes = ("float32",)
            FLOAT32_ONLY[self.path.name] = reason
        self.reports = reports = [
            eqd.audit(model, design.symmetry, seed=design.plan.seed, dtype=getattr(torch, d))
            for d in dtypes
        ]
        problems = []
        for dtype, report in zip(dtypes, reports, strict=True):
            baseline = baseline_path(self.path, dtype)
            if self.update:
                _write_atomic(baseline, report.to_json() + "\n")
            elif baseline.exists():
                comparison = eqd.compare(baseline.read_text(), report, tolerance=self.tolerance)
                if comparison.regressed:
                    problems.append(
                        f"{self.path.name}: the {dtype} audit regressed against {baseline.name}\n"
                        + comparison.to_text()
                    )
            if report.verdict != "PASS":
                problems.append(
                    f"{self.path.name}: {report.model} is not equivariant in {dtype}: "
                    f"{report.summary}\n\n{report.to_text()}"
                )
        if problems:
            raise AssertionError("\n".join(problems))
        return reports


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SpecItem(pytest.Item):
    """Design the spec's model, audit it, compare with (or write) its baselines."""

    def __init__(self, *, spec_path: Path, **kwargs):
        super().__init__(**kwargs)
        self.spec_path = Path(spec_path)
        self.add_marker("equidesign_spec")

    def runtest(self):
        __tracebackhide__ = True
        SpecAudit(self.spec_path, self.config).check()

    def repr_failure(self, excinfo):
        from .errors import EquidesignError

        if isinstance(excinfo.value, (AssertionError, EquidesignError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.spec_path, None, f"equidesign spec {self.spec_path.name}"


class SpecFile(pytest.File):
    def collect(self):
        yield SpecItem.from_parent(self, name="audit", spec_path=Path(self.path))


# ------------------------------------------------------------------------- the marker
def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    if not marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: name the folder, e.g. ('specs/')")
    if "equidesign_spec" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} on {metafunc.function.__name__}: add the argument "
            "equidesign_spec to the test"
        )
    folder = Path(marker.args[0])
    if not folder.is_absolute():
        folder = Path(metafunc.config.rootpath) / folder
    specs = sorted(folder.glob("*.yaml"))
    if not specs:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: no *.yaml spec in {folder}")
    metafunc.parametrize("equidesign_spec", specs, ids=[p.name for p in specs], indirect=True)


@pytest.fixture
def equidesign_spec(request):
    """The audit of one spec (tests marked ``equidesign_specs``): ``.path``, ``.check()``."""
    path = getattr(request, "param", None)
    if path is None:
        raise pytest.UsageError(
            f"the fixture equidesign_spec needs @pytest.mark.{MARKER}('folder') on the test"
        )
    return SpecAudit(path, request.config)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    result = yield
    audit = pyfuncitem.funcargs.get("equidesign_spec")
    if isinstance(audit, SpecAudit) and pyfuncitem.get_closest_marker(MARKER) is not None:
        audit.check()  # the audit runs after the body, unless the body already ran it
    return result
