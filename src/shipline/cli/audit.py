"""``shipline audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

__all__ = ["app"]

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

    from shipline.audit import list_events

    project: Project = ctx.obj
    events = list_events(project.db(), limit, target, action)
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
def verify(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Walk the chain; exit 1 naming the first broken row."""
    from shipline.audit import verify_chain

    project: Project = ctx.obj
    report = verify_chain(project.db())
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "head": report.head,
                "broken_seq": report.broken_seq,
                "reason": report.reason,
            }
        )
    elif report.ok:
        typer.echo(f"audit chain intact: {report.checked} events, head {report.head[:16]}")
    else:
        typer.echo(
            f"audit chain BROKEN at row {report.broken_seq}: {report.reason} "
            f"({report.checked} rows before it verify)",
            err=True,
        )
    if not report.ok:
        raise typer.Exit(1)
