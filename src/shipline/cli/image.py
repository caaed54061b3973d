"""``shipline build`` (an image serving a model version) and ``shipline container`` (what the
image runs)."""

from __future__ import annotations

__all__ = ["build", "container_app"]

from pathlib import Path
from typing import Annotated

import typer

from shipline.project import Project

container_app = typer.Typer(
    help="Inside a shipline image: serve, check or probe the baked-in model.",
    no_args_is_help=True,
)


def build(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="NAME@ALIAS", help="The version to ship.")],
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Image tag (default shipline-NAME:vN).")
    ] = None,
    base: Annotated[
        str,
        typer.Option("--base", help="Base image with Python of this machine's minor version."),
    ] = "docker.io/library/python:3.11-slim-bookworm",
    builder: Annotated[
        str | None,
        typer.Option(
            "--builder", help="docker, podman or buildah (default: the first that works)."
        ),
    ] = None,
    constraints: Annotated[
        Path | None,
        typer.Option(
            "--constraints",
            help="Pins for the image (default: the project's constraints.txt, else this "
            "environment's versions).",
        ),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option("--context", help="Only write the build context here, for a build elsewhere."),
    ] = None,
) -> None:
    """Build an OCI image serving NAME@ALIAS's version: non-root, SageMaker's contract (serve,
    port 8080, /ping, /invocations) beside /v2, digests checked at build and at start."""
    from shipline.project.deploy_operations import ImageChoices

    project: Project = ctx.obj
    choices = ImageChoices(base=base, tag=tag, builder=builder, constraints=constraints)
    if context is not None:
        tag_name = project.write_image_context(target, choices, context)
        typer.echo(f"wrote the build context of {target} to {context}")
        typer.echo(f"build it with: buildah bud --format docker -t {tag_name} {context}")
        return
    built = project.build_image(target, choices)
    typer.echo(f"built {built.tag} with {built.builder}: {built.image_id}")


@container_app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Check the baked-in model's files, then serve it on 0.0.0.0:8080 (SageMaker's contract)."""
    from shipline.server.allocator import prefer_system_allocator

    prefer_system_allocator()
    from shipline.server.container import image_port, serve_image

    typer.echo(f"serving the image's model on port {image_port()}", err=True)
    serve_image(ctx.obj)


@container_app.command("check")
def check(ctx: typer.Context) -> None:
    """Check every file of the baked-in model against its digest (and its signature when
    SHIPLINE_REQUIRE_SIGNED=1)."""
    from shipline.server.container import check as check_model

    manifest = check_model(ctx.obj)
    version = manifest.model_version()
    count = len(manifest.files)
    typer.echo(f"{version.ref}: {count} file{'s' if count != 1 else ''} match their digests")


@container_app.command("health")
def health() -> None:
    """Exit 0 when the server in this container answers /ping."""
    from shipline.server.container import health as answers

    if not answers():
        raise typer.Exit(1)
