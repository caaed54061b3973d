"""``shipline audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

__all__ = ["app"]

from pathlib import Path
from typing import Annotated

import typer

from shipline.cli.output import print_json, print_table, when
from shipline.project import Project

app = typer.Typer(
    help="The append-only, hash-chained record of every change.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("log")
def log(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100_000, help="How many events.")
    ] = 50,
    target: Annotated[
        str | None, typer.Option("--target", help="Only targets starting with this.")
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the newest audit events, oldest first."""
    import orjson

    project: Project = ctx.obj
    events = project.audit_events(limit, target, action)
    if as_json:
        print_json(
            [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "before": orjson.loads(e.before),
                    "after": orjson.loads(e.after),
                    "row_hash": e.row_hash,
                }
                for e in events
            ]
        )
        return
    rows = [(e.seq, when(e.at), e.actor, e.action, e.target, _brief(e.after)) for e in events]
    print_table("Audit log", ("seq", "at (UTC)", "actor", "action", "target", "after"), rows)


def _brief(document: str) -> str:
    """A one-line summary of a JSON value: long strings such as digests are shortened."""
    import orjson

    value = orjson.loads(document)
    if not isinstance(value, dict):
        return document
    parts = []
    for key, item in value.items():
        text = str(item)
        parts.append(f"{key}={text[:12] + '…' if len(text) > 16 else text}")
    return " ".join(parts)


@app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A file from `audit checkpoint`: prove nothing was cut."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Walk the chain and check the registry tables against it; exit 1 naming what is wrong.
    Opens the database read-only, so it works on an archived copy."""
    from shipline.errors import UsageError

    project: Project = ctx.obj
    saved = None
    if checkpoint is not None:
        try:
            saved = (checkpoint.read_bytes(), str(checkpoint))
        except OSError as error:
            raise UsageError(f"--checkpoint {checkpoint}: {error.strerror}") from None
    report = project.verify_audit(saved)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        typer.echo(f"audit chain intact: {report.checked} events, head {report.head[:16]}")
        typer.echo("registry tables agree with the chain" + (", checkpoint found" if saved else ""))
    else:
        if report.broken_seq is not None:
            typer.echo(
                f"audit chain BROKEN at row {report.broken_seq}: {report.reason} "
                f"({report.checked} rows before it verify)",
                err=True,
            )
        for problem in report.state_problems:
            typer.echo(f"state not vouched for by the audit chain: {problem}", err=True)
        if report.checkpoint_problem:
            typer.echo(f"checkpoint: {report.checkpoint_problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")
    ] = None,
) -> None:
    """Export the chain's head (sequence number and hash) to keep outside the database."""
    import orjson

    from shipline.artifacts.local_file import write_atomically

    project: Project = ctx.obj
    head = project.audit_checkpoint()
    if output is None:
        print_json(head.to_dict())
        return
    write_atomically(output, orjson.dumps(head.to_dict(), option=orjson.OPT_INDENT_2))
    typer.echo(f"checkpoint: row {head.seq}, hash {head.row_hash[:16]} -> {output}")
