"""Uploads from remote-mode clients: content-addressed blobs (re-hashed here, create-only),
runs trained on the client (gated and registered here), and reading a run's outputs."""

from __future__ import annotations

__all__ = ["router"]

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from shipline.api.bodies import DigestsBody, RunUploadBody, needs, validated_config
from shipline.api.credentials import ServerState, caller, state
from shipline.errors import DigestMismatchError, NotFoundError, UsageError
from shipline.identity import Permission, Principal
from shipline.pipeline import RunRecord

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Server = Annotated[ServerState, Depends(state)]
MAX_BLOB = 4 * 1024**3
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _digest(text: str) -> str:
    if not _DIGEST.match(text):
        raise UsageError(f"expected a BLAKE3 digest (64 lowercase hex digits), got {text[:80]!r}")
    return text


@router.post("/blobs/missing", **needs(Permission.RUN))
def missing_blobs(body: DigestsBody, who: Caller, server: Server) -> dict[str, list[str]]:
    """Which of these blobs the server does not hold yet (upload only those)."""
    who.require_somewhere(Permission.RUN)
    return {"missing": [d for d in map(_digest, body.digests) if not server.store.exists(d)]}


@router.put("/blobs/{digest}", status_code=201, **needs(Permission.RUN))
async def upload_blob(digest: str, request: Request, who: Caller, server: Server) -> dict[str, Any]:
    """One blob, streamed into the store; refused unless its bytes hash to ``digest``."""
    from starlette.concurrency import run_in_threadpool

    from shipline.api.upload_body import received_file

    who.require_somewhere(Permission.RUN)
    _digest(digest)
    async with received_file(request, "blob", MAX_BLOB) as path:
        size = path.stat().st_size
        stored = await run_in_threadpool(server.store.put_file, path)
    if stored.digest != digest:
        raise DigestMismatchError(f"upload to /blobs/{digest}", digest, stored.digest)
    return {"digest": stored.digest, "size": size}


@router.post("/runs/import", status_code=201, **needs(Permission.RUN))
def import_run(body: RunUploadBody, who: Caller, server: Server) -> RunRecord:
    """A run whose training steps ran on the client: recorded as the caller's, then gated
    and registered here."""
    from shipline.pipeline.run_import import UploadedRun
    from shipline.pipeline.run_import import import_run as record

    who.require_somewhere(Permission.RUN)
    config = validated_config(body.config)
    who.require(Permission.RUN, config.name)
    uploaded = UploadedRun(
        config,
        body.trigger,
        body.lineage,
        body.params,
        tuple(body.steps),
        body.dataset,
        body.error,
    )
    return record(server.db, server.store, uploaded, who.name, server.signing_key)


@router.get("/runs/{run_id}/outputs/{digest}", **needs(Permission.READ))
def run_output(run_id: int, digest: str, who: Caller, server: Server) -> Response:
    """One JSON output of a run's step (a gate verdict, a validation report)."""
    from shipline.pipeline import get_run

    who.require_somewhere(Permission.READ)
    run = get_run(server.db, run_id)
    who.require(Permission.READ, run.model)
    produced = {d for step in run.steps for d in step.outputs.values()}
    if _digest(digest) not in produced:
        raise NotFoundError(f"run {run_id} has no output {digest}")
    data = server.store.read_bytes(digest)
    if not data.startswith((b"{", b"[")):
        raise NotFoundError(f"output {digest} of run {run_id} is not JSON")
    return Response(data, media_type="application/json")
