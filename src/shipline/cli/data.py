"""``shipline data``: add, list, show and diff dataset versions."""

from __future__ import annotations

__all__ = ["app"]

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipline.cli.output import byte_progress, print_json, print_table, when
from shipline.project import Project

if TYPE_CHECKING:
    from shipline.data import DatasetVersion

app = typer.Typer(help="Versioned snapshots of training data.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@app.command("add")
def add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet file, or a folder of them.")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Dataset name (default: file name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Snapshot PATH as an immutable dataset version (same bytes, same version)."""

    project: Project = ctx.obj
    with byte_progress("hashing", enabled=not as_json) as progress:
        result = project.add_data(path, name, progress)
    version = result.version
    if as_json:
        print_json({**version.to_dict(), "created": result.created})
        return
    verb = "added" if result.created else "unchanged, already"
    typer.echo(
        f"{verb} {version.ref}: {version.rows} rows, {len(version.columns)} columns, "
        f"{_size(version.size)}, blake3:{version.digest[:16]}"
    )


@app.command("accept")
def accept(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The dataset version, e.g. churn@v2.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the schema change is fine.")],
    as_json: JsonOption = False,
) -> None:
    """Accept REF's changed schema (new, dropped or retyped columns); audited."""
    project: Project = ctx.obj
    acceptance = project.accept_schema(ref, reason)
    if as_json:
        print_json(acceptance.to_dict())
        return
    typer.echo(
        f"accepted the schema of {acceptance.dataset}@v{acceptance.version} "
        f"({len(acceptance.columns)} columns) by {acceptance.accepted_by}: {acceptance.reason}"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only versions of this dataset.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List dataset versions."""
    project: Project = ctx.obj
    versions = project.datasets(name)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    rows = [
        (
            v.ref,
            v.rows,
            len(v.columns),
            _size(v.size),
            v.format,
            v.digest[:12],
            when(v.created_at),
            v.created_by,
        )
        for v in versions
    ]
    headers = ("version", "rows", "cols", "size", "format", "digest", "created (UTC)", "by")
    print_table("Datasets", headers, rows)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="name@vN, name (latest) or a digest prefix.")],
    as_json: JsonOption = False,
) -> None:
    """Show one dataset version: schema, files, lineage."""
    project: Project = ctx.obj
    version = project.dataset(ref)
    if as_json:
        print_json(version.to_dict())
        return
    _render_version(version)


def _render_version(version: DatasetVersion) -> None:
    typer.echo(f"{version.ref}  blake3:{version.digest}")
    typer.echo(
        f"  {version.kind}, {version.format}, {version.rows} rows, {_size(version.size)}; "
        f"added {when(version.created_at)} by {version.created_by} from {version.source}"
    )
    print_table("Columns", ("column", "dtype"), [(c.name, c.dtype) for c in version.columns])
    if version.kind == "directory":
        rows = [(f.path, f.rows, _size(f.size), f.digest[:12]) for f in version.files]
        print_table("Files", ("path", "rows", "size", "digest"), rows)


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="The older version.")],
    b: Annotated[str, typer.Argument(help="The newer version.")],
    as_json: JsonOption = False,
) -> None:
    """Compare two versions: schema changes, row counts, changed files."""
    project: Project = ctx.obj
    result = project.diff_datasets(a, b)
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo(
        f"{result.a} -> {result.b}" + ("  (identical content)" if result.same_content else "")
    )
    typer.echo(f"  rows: {result.rows_a} -> {result.rows_b} ({result.rows_b - result.rows_a:+d})")
    changes = [("added", c, "") for c in result.columns_added]
    changes += [("removed", c, "") for c in result.columns_removed]
    changes += [("dtype", c, f"{x} -> {y}") for c, x, y in result.dtypes_changed]
    if changes:
        print_table("Schema changes", ("change", "column", "detail"), changes)
    else:
        typer.echo("  schema: unchanged")
    files = [("added", p) for p in result.files_added] + [
        ("removed", p) for p in result.files_removed
    ]
    files += [("changed", p) for p in result.files_changed]
    if files:
        print_table("Files", ("change", "path"), files)
