"""``shipline models``, ``promote``, ``rollback``, ``approve``, ``reject``, ``approvals``."""

from __future__ import annotations

__all__ = ["app", "approvals", "approve", "promote", "reject", "rollback"]

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipline.cli.output import MAX_ID, print_json, print_table, when
from shipline.project import Project

if TYPE_CHECKING:
    from shipline.registry.approval import Promotion

app = typer.Typer(
    help="The model registry: versions, aliases, cards, history.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only versions of this model.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Registered versions and the aliases they hold."""
    project: Project = ctx.obj
    versions = project.versions(name)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    rows = [
        (
            v.ref,
            ", ".join(v.aliases),
            v.run_id,
            when(v.created_at),
            v.created_by,
            ", ".join(f"{k}={x:.3f}" for k, x in sorted(v.metrics.items())[:3]),
        )
        for v in versions
    ]
    print_table("Models", ("version", "aliases", "run", "registered (UTC)", "by", "metrics"), rows)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    as_json: JsonOption = False,
) -> None:
    """One version: signature, metrics, gates, lineage."""
    project: Project = ctx.obj
    version = project.version(ref)
    applied = project.applied_config(version.name)
    applied_view = (
        None
        if applied is None
        else {"version": applied.version, "digest": applied.digest, "at": applied.applied_at}
    )
    if as_json:
        print_json({**version.to_dict(), "applied_config": applied_view})
        return
    facts = version.facts
    typer.echo(
        f"{version.ref}  aliases: {', '.join(version.aliases) or '-'}  "
        f"bundle blake3:{version.bundle_digest[:16]}"
    )
    typer.echo(
        f"  registered {when(version.created_at)} by {version.created_by} "
        f"from run {version.run_id}, dataset {facts.lineage.dataset}, "
        f"git {facts.lineage.git_commit or '-'}"
    )
    typer.echo(
        "  metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(version.metrics.items()))
    )
    output = facts.signature.output.model_dump(exclude_none=True, mode="json")
    typer.echo(f"  signature: {len(facts.signature.inputs)} inputs -> {output}")
    signed = facts.signed
    typer.echo(
        f"  signed: key {signed.key_id} over {', '.join(signed.files)} (models verify checks it)"
        if signed
        else "  signed: no (registered without SHIPLINE_SIGNING_KEY)"
    )
    typer.echo(
        f"  applied config: {applied.version} ({when(applied.applied_at)} by {applied.applied_by})"
        if applied
        else "  applied config: none (shipline apply records one)"
    )


@app.command("card")
def card(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    as_json: JsonOption = False,
) -> None:
    """The version's model card (Markdown, or JSON with --json)."""
    project: Project = ctx.obj
    typer.echo(project.model_card(ref, as_json), nl=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The team's PEM public key (default: SHIPLINE_VERIFY_KEY)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the version's signature over its files with the team's public key; exit 1 when
    it is unsigned or does not hold."""
    project: Project = ctx.obj
    checked = project.verify_signature(ref, key)
    if as_json:
        print_json({"ref": checked.ref, "key_id": checked.key_id, "files": checked.files})
    else:
        names = ", ".join(checked.files)
        typer.echo(f"{checked.ref}: signature holds ({names}; key {checked.key_id})")


@app.command("history")
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every move of the model's aliases."""
    project: Project = ctx.obj
    moves = project.alias_history(name, alias)
    if as_json:
        print_json([m.to_dict() for m in moves])
        return
    rows = [
        (m.alias, m.from_version or "-", m.to_version, m.kind, when(m.at), m.actor, m.reason or "")
        for m in moves
    ]
    print_table(
        f"Alias history of {name}",
        ("alias", "from", "to", "kind", "at (UTC)", "by", "reason"),
        rows,
    )


def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version number.", min=1, max=MAX_ID)],
    to: Annotated[str, typer.Option("--to", help="Alias to move, e.g. production.")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Move an alias to a version, or open an approval when the policy is manual."""
    project: Project = ctx.obj
    _say(project.promote(name, version, to, reason), "")


def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to move back.")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Move an alias back to the version that held it before."""
    project: Project = ctx.obj
    _say(project.rollback(name, alias, reason), " (rolled back)")


def _say(result: Promotion, moved_note: str) -> None:
    """What a promotion or rollback did: moved, opened an approval, or nothing to do."""
    target, alias = result.version.ref, f"{result.version.name}@{result.alias}"
    if result.moved:
        typer.echo(f"{alias} -> {target}{moved_note}")
    elif result.rollout is not None:
        started = result.rollout
        typer.echo(
            f"rollout {started.id} started: {target} takes over {alias} from "
            f"v{started.stable} ({started.phase}, {started.share:.0%} of traffic); "
            f"shipline rollout status {result.version.name}"
        )
    elif result.approval is not None:
        typer.echo(
            f"approval {result.approval.id} opened: {target} -> @{result.alias} needs "
            f"{result.approval.required} approver(s) other than its authors "
            f"(shipline approve {result.approval.id})"
        )
    else:
        typer.echo(f"{alias} already is {target}; nothing to move or approve")


def approve(
    ctx: typer.Context,
    approval_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID)],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Approve a pending promotion (the version's authors cannot)."""
    project: Project = ctx.obj
    approval = project.approve(approval_id, reason)
    if approval.status == "approved":
        typer.echo(
            f"approval {approval.id} approved: "
            f"{approval.model}@{approval.alias} -> {approval.model}:{approval.version}"
        )
    else:
        typer.echo(
            f"approval {approval.id}: {len(approval.decisions)} of {approval.required} approvals"
        )


def reject(
    ctx: typer.Context,
    approval_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID)],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
) -> None:
    """Reject a pending promotion for good."""
    project: Project = ctx.obj
    approval = project.reject(approval_id, reason)
    typer.echo(
        f"approval {approval.id} rejected: "
        f"{approval.model}:{approval.version} stays off @{approval.alias}"
    )


def approvals(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or rejected.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List promotion approvals."""
    project: Project = ctx.obj
    found = project.approvals(status)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    rows = [
        (
            a.id,
            f"{a.model}:{a.version}",
            a.alias,
            a.status,
            a.requested_by,
            when(a.requested_at),
            ", ".join(d["actor"] for d in a.decisions),
        )
        for a in found
    ]
    print_table(
        "Approvals",
        ("id", "version", "alias", "status", "requested by", "at (UTC)", "decided by"),
        rows,
    )
