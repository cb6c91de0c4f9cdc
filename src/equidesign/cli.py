"""The ``equidesign`` command line.

Exit codes: 0 PASS, 1 FAIL or NEEDS_ATTENTION, 2 bad input (one line per problem), 3 a bug in
equidesign's generated code. Heavy libraries are imported inside the commands, so ``--help``
and ``--version`` answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from . import __version__
from .errors import EquidesignError

app = typer.Typer(
    name="equidesign",
    help="Design symmetry-respecting neural networks, generate their code, audit them.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_CODES = {"PASS": 0, "FAIL": 1, "NEEDS_ATTENTION": 1}


class _Command(TyperCommand):
    """Help as click writes it: ``SPEC`` in the usage line and beside its help, without typer's
    ``{spec}`` braces and ``<path>`` types."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.metavar or (param.name or "").upper())
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        args = [
            (p.metavar or (p.name or "").upper(), getattr(p, "help", None) or "")
            for p in params
            if p.param_type_name == "argument"
        ]
        opts = [p.get_help_record(ctx) for p in params if p.param_type_name == "option"]
        for title, rows in (("Arguments", args), ("Options", [r for r in opts if r])):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _fail(exc: EquidesignError) -> None:
    for line in str(exc).splitlines() or [type(exc).__name__]:
        typer.echo(line, err=True)
    details = getattr(exc, "details", "")
    if details:
        typer.echo("Traceback of your code (most recent call last):", err=True)
        typer.echo(details.rstrip("\n"), err=True)
    raise typer.Exit(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"equidesign {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """equidesign: design, generate and audit equivariant models."""


def _read_report(field: str, path: Path):
    """A stored audit report, or a one-line error naming the field, the file and why."""
    import json

    from .auditor import AuditReport

    if not path.exists():
        raise EquidesignError(f"{field}: no such file '{path}'; give the path of an audit.json")
    if path.is_dir():
        raise EquidesignError(f"{field}: '{path}' is a folder; give the path of its audit.json")
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EquidesignError(
            f"{field}: {path} is not JSON ({type(exc).__name__}); give an audit.json written "
            "by equidesign design or audit"
        ) from None
    try:
        return AuditReport.model_validate_json(text)
    except ValueError as exc:
        problems = getattr(exc, "error_count", lambda: 0)()
        raise EquidesignError(
            f"{field}: {path} is JSON but not an equidesign audit report ({problems} fields "
            "missing or wrong); give an audit.json written by equidesign design or audit"
        ) from None


@app.command(cls=_Command, short_help="Design a model for SPEC, generate, audit and write it.")
def design(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec file (YAML).")],
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "-o", "--out", metavar="DIR", help="Output folder (default: out/<spec name>)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite files you edited since equidesign wrote them."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would change; write nothing; exit as the run would."
        ),
    ] = False,
) -> None:
    """Design a model for SPEC, generate its code, audit it, and write the results."""
    try:
        from .codegen import plan_write
        from .pipeline import prepare
        from .spec import load_spec

        loaded = load_spec(spec)
        target = out or Path("out") / loaded.name
        result, report, files = prepare(loaded)
        plan = plan_write(target, files, force=force)
        if dry_run:
            _dry_run(plan, report)
        plan.execute()
    except EquidesignError as exc:
        _fail(exc)
    _summary(result, report, target)
    raise typer.Exit(EXIT_CODES[report.verdict])


def _dry_run(plan, report) -> None:
    """Show what the run would change, and exit with the code the run would give: 2 when it
    would stop at a conflict, else the verdict's."""
    from .errors import WriteConflictError

    for line in plan.summary_lines():
        typer.echo(line)
    for name, action in plan.actions.items():
        if action in ("update", "conflict"):
            typer.echo(plan.diff(name))
    if plan.conflicts:
        try:
            plan.execute()  # refuses every conflict before it writes anything
        except WriteConflictError as exc:
            for line in str(exc).splitlines():
                typer.echo(line, err=True)
            typer.echo(
                f"--dry-run: the real run would stop here with exit {exc.exit_code}; nothing "
                "was written",
                err=True,
            )
            raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(EXIT_CODES[report.verdict])


def _summary(result, report, target: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    p = result.plan
    table = Table(title=f"{p.class_name}: {p.family} ({p.library})", show_header=False)
    table.add_row("group", f"{p.group} ({p.symmetry_type.lower()}) on {p.domain}")
    table.add_row("layers", str(len(p.layers)))
    table.add_row("parameters", f"{p.parameters:,}" if p.parameters is not None else "?")
    e = report.end_to_end
    table.add_row("end-to-end error", f"{e.max_rel:.1e} ({e.level.value}, {e.n_elements} elements)")
    if e.interpolated is not None:
        i = e.interpolated
        table.add_row("off-grid elements", f"{i.max_rel:.1e}, {i.ratio:.2f}x interpolation floor")
    table.add_row(
        "layers tested", f"{sum(r.passed for r in report.layers)}/{len(report.layers)} pass"
    )
    if report.gradient is not None:
        g = report.gradient
        text = f"{g.max_rel:.1e} ({g.level.value})"
        if g.float64_max_rel is not None and g.passed:
            text = f"{g.max_rel:.1e} float32 round-off; {g.float64_max_rel:.1e} in float64"
        table.add_row("gradients", text)
    table.add_row("verdict", report.verdict)
    table.add_row("written", str(target))
    Console(stderr=False).print(table)
    for f in report.findings:
        typer.echo(f"- [{f.kind}] {f.title} at {f.location}: {f.fix}")


@app.command(cls=_Command, short_help="Print each design decision for SPEC and its rule.")
def explain(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec file (YAML).")],
) -> None:
    """Print each design decision for SPEC and the rule behind it (no code is written)."""
    try:
        from .designer import plan_for
        from .templates._views import plan_table

        plan = plan_for(spec)
    except EquidesignError as exc:
        _fail(exc)
    typer.echo(f"{plan.class_name}: {plan.family} ({plan.library})")
    typer.echo(
        f"  group {plan.group} ({plan.symmetry_type.lower()}), domain {plan.domain}, "
        f"task {plan.task}"
    )
    typer.echo("")
    typer.echo("Decisions:")
    for d in plan.decisions:
        typer.echo(f"- {d.topic}: {d.choice}")
        typer.echo(f"    rule: {d.rule}")
        typer.echo(f"    why:  {d.why}")
    if plan.adjustments:
        typer.echo("")
        typer.echo("Adjustments by the static checks:")
        for a in plan.adjustments:
            typer.echo(f"- [{a.check}] {a.what}: {a.why}")
    typer.echo("")
    typer.echo("Plan:")
    for row in plan_table(plan):
        typer.echo(f"  {row}")
    typer.echo("")
    typer.echo("Parameters:")
    for line in _parameter_lines(plan):
        typer.echo(f"  {line}")
    typer.echo("")
    typer.echo("Alternatives:")
    for a in plan.alternatives:
        typer.echo(f"- {a.family} ({a.library}): {a.tradeoff}")


def _parameter_lines(plan) -> list[str]:
    """What explain can say about the parameter count: it builds no model, so it counts none."""
    lines = [
        "not counted by explain: the count needs the built model, which `equidesign design` "
        "builds (and explain does not, to stay free of torch)"
    ]
    if plan.max_params is not None:
        lines.append(
            f"max_params {plan.max_params:,}: checked by `equidesign design`, which narrows the "
            "width to fit or refuses when the model at width 1 is larger"
        )
    return lines


@app.command(cls=_Command, short_help="Audit a model of yours (a factory returning it).")
def audit(
    target: Annotated[
        str,
        typer.Argument(metavar="TARGET", help="path/to/file.py:factory or package.module:factory"),
    ],
    symmetry: Annotated[
        Path,
        typer.Option(
            "--symmetry",
            "-s",
            metavar="FILE",
            help="YAML: domain, group, input, output, size",
        ),
    ],
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "-o", "--out", metavar="DIR", help="Output folder (default: out/audit-<factory>)."
        ),
    ] = None,
    baseline: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="An earlier audit.json: exit 1 if this audit regressed.",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", metavar="FACTOR", help="Error growth that counts as a regression."
        ),
    ] = 10.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite edited reports.")] = False,
) -> None:
    """Audit a model of yours: the factory returns a model, or (model, inputs)."""
    try:
        from .auditor import compare
        from .codegen import plan_write
        from .spec import load_symmetry_spec

        sym_spec = load_symmetry_spec(symmetry)
        base = None if baseline is None else _read_report("--baseline", baseline)
        report = _audit_target(target, sym_spec)
        comparison = compare(base, report, tolerance=tolerance) if base is not None else None
        files = {
            "audit.md": report.to_markdown(),
            "audit.json": report.to_json() + "\n",
            "audit.html": report.to_html(),
        }
        if report.lie_derivative is not None:
            from .auditor.lee_plot import lee_png

            png = lee_png(report.lie_derivative)
            if png is not None:
                files["lee.png"] = png  # the plot audit.html embeds, on its own
        if comparison is not None:
            files["comparison.txt"] = comparison.to_text()
        target_dir = out or Path("out") / f"audit-{target.rpartition(':')[2]}"
        plan_write(target_dir, files, force=force).execute()
    except EquidesignError as exc:
        _fail(exc)
    typer.echo(report.summary)
    for f in report.findings:
        typer.echo(f"- [{f.kind}] {f.title} at {f.location}: {f.fix}")
    typer.echo(f"written: {target_dir}")
    if comparison is not None:
        typer.echo(comparison.to_text().rstrip("\n"))
        if comparison.regressed:
            raise typer.Exit(1)
    raise typer.Exit(EXIT_CODES[report.verdict])


def _audit_target(target: str, sym_spec):
    import torch
    from rich.progress import Progress

    from ._targets import call_factory, load_factory
    from .auditor import audit as run_audit
    from .auditor.audit import PHASES

    factory = load_factory(target)
    model, inputs = call_factory(factory, target)
    dtype = {"float32": torch.float32, "float64": torch.float64}.get(sym_spec.dtype or "")
    with Progress(transient=True) as bar:
        task = bar.add_task("auditing", total=len(PHASES))

        def step(phase: str) -> None:
            bar.update(task, completed=PHASES.index(phase), description=phase)

        return run_audit(
            model,
            sym_spec.symmetry(),
            inputs,
            seed=sym_spec.seed,
            n_inputs=sym_spec.n_inputs,
            lie_derivative=sym_spec.lie_options(),
            dtype=dtype,
            name=target.rpartition(":")[2],
            progress=step,
        )


@app.command(cls=_Command)
def report(
    audit_json: Annotated[
        Path, typer.Argument(metavar="AUDIT_JSON", help="An audit.json written by equidesign.")
    ],
    html: Annotated[bool, typer.Option("--html", help="Write a self-contained HTML page.")] = False,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "-o", "--out", metavar="FILE", help="Where to write (default: beside the JSON)."
        ),
    ] = None,
) -> None:
    """Render a stored audit report as text, or as HTML with --html."""
    try:
        rep = _read_report("AUDIT_JSON", audit_json)
        if not html:
            typer.echo(rep.to_text(), nl=False)
            raise typer.Exit(0)
        from .codegen import plan_write

        target = out or audit_json.with_suffix(".html")
        plan_write(target.parent, {target.name: rep.to_html()}).execute()
    except EquidesignError as exc:
        _fail(exc)
    typer.echo(f"written: {target}")


@app.command(cls=_Command)
def schema() -> None:
    """Print the JSON Schema of spec files (for YAML editors)."""
    import json

    from .spec import spec_json_schema

    typer.echo(json.dumps(spec_json_schema(), indent=2))


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="equidesign")
    except EquidesignError as exc:  # pragma: no cover - commands catch their own
        for line in str(exc).splitlines():
            print(line, file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # python -m equidesign.cli
    main()
