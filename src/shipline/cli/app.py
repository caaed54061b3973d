"""The ``shipline`` command: the root of the verbs (`cli/command_table.py`), errors become exit
codes here."""

from __future__ import annotations

__all__ = ["app", "main"]

import sys
from pathlib import Path
from typing import Annotated

import typer

from shipline import __version__
from shipline.cli.command_table import LazyCommands
from shipline.cli.output import print_error
from shipline.collector import collect_young_less_often
from shipline.errors import ShiplineError
from shipline.project import open_project

app = typer.Typer(
    name="shipline",
    help="One shipline.yaml drives a model from data to production and back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=LazyCommands,  # the verbs of cli/command_table.py, each built when it is used
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"shipline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="shipline.yaml to use (default: nearest one upwards)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """One shipline.yaml drives a model from data to production and back."""
    project = open_project(config)
    ctx.obj = project
    ctx.call_on_close(project.close)


def main() -> None:
    """Run the CLI: exit 0 on success, 1 when an operation failed, 2 on usage or config errors."""
    collect_young_less_often()
    code = 0
    try:
        app(prog_name="shipline")
    except SystemExit as done:  # typer ends every command this way
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print_error(done.code)
    except ShiplineError as error:
        print_error(str(error))
        code = error.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        code = 130
    # Exiting outside the handler lets the traceback's frames (and the Arrow objects they hold)
    # go while Arrow is still alive: pyarrow can abort if they are torn down at interpreter exit.
    _exit(code)


def _exit(code: int) -> None:
    """End the process with ``code``.

    With pyarrow loaded, its worker threads can still be joinable when C++ static destructors
    run at process exit, and the C++ runtime then aborts the process ("terminate called without
    an active exception", exit -6) after the work is done and committed; seen on busy machines.
    So Python's own exit handlers run and the streams are flushed, then the process ends
    without that C++ teardown. Every write shipline makes is committed (and fsynced) before.
    """
    if "pyarrow" not in sys.modules:
        sys.exit(code)
    import atexit
    import logging
    import os

    logging.shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
