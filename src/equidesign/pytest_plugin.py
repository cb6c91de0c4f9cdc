"""The pytest plugin (entry point ``pytest11``): equivariance checks in a project's own CI.

* fixture ``assert_equivariant``: :func:`equidesign.testing.assert_equivariant`;
* ``--equidesign-specs DIR``: every ``*.yaml`` spec in DIR becomes a test that designs the model,
  audits it (float32 and float64) and fails unless it passes; when ``DIR/<name>.audit.json``
  exists, the audit is compared with it and a regression fails the test.

Nothing heavy is imported until a check runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["SpecItem", "SpecFile"]


def pytest_addoption(parser):
    group = parser.getgroup("equidesign")
    group.addoption(
        "--equidesign-specs",
        action="append",
        default=[],
        metavar="DIR",
        help="audit the model of every equidesign spec (*.yaml) in DIR",
    )
    group.addoption(
        "--equidesign-tolerance",
        type=float,
        default=10.0,
        help="error growth against a stored <spec>.audit.json that counts as a regression",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "equidesign_spec: an equidesign spec audited as a test")


@pytest.fixture
def assert_equivariant():
    """``assert_equivariant(model, symmetry, inputs=None, dtypes=(...), **audit_kwargs)``."""
    from .testing import assert_equivariant as check

    return check


class SpecItem(pytest.Item):
    """Design the spec's model, audit it, compare with a stored baseline."""

    def __init__(self, *, spec_path: Path, **kwargs):
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.add_marker("equidesign_spec")

    def runtest(self):
        __tracebackhide__ = True
        import equidesign as eqd

        from .testing import EquivarianceAssertionError, assert_equivariant

        design = eqd.design(self.spec_path)
        failure = None
        try:
            reports = assert_equivariant(design.build(), design.symmetry, seed=design.plan.seed)
        except EquivarianceAssertionError as exc:
            reports, failure = exc.reports, exc
        baseline = self.spec_path.with_suffix(".audit.json")
        if baseline.exists():
            tolerance = self.config.getoption("--equidesign-tolerance")
            comparison = eqd.compare(baseline.read_text(), reports[0], tolerance=tolerance)
            if comparison.regressed:
                raise AssertionError(
                    f"{self.spec_path.name}: the audit regressed against {baseline.name}\n"
                    + comparison.to_text()
                    + (f"\n{failure}" if failure else "")
                )
        if failure is not None:
            raise failure

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


def pytest_collection_modifyitems(session, config, items):
    for folder in config.getoption("--equidesign-specs"):
        path = Path(folder)
        if not path.is_dir():
            raise pytest.UsageError(f"--equidesign-specs: {folder} is not a folder")
        for spec in sorted(path.glob("*.yaml")):
            items.extend(SpecFile.from_parent(session, path=spec.resolve()).collect())
