"""The Containerfile of a shipline image: docker, podman and buildah build it alike.

Two stages: the first installs shipline and its dependencies from the build context's wheels
(pinned by the context's constraints, no index, so the build needs no network) into a
virtual environment; the second copies that environment and the model onto a clean base, so
no wheel stays in a layer. The model's files are checked against their digests by a ``RUN``
step (a tampered context fails the build), and again by ``shipline container serve`` at every
start.

The image runs as UID 10001, group 0, and everything it must read or write is owned by group
0 with the owner's permissions, so it also runs under an arbitrary UID in group 0 (OpenShift's
restricted policy). Its command follows SageMaker's serving contract: the entrypoint takes
``serve``, listens on port 8080 and answers ``GET /ping`` and ``POST /invocations``, beside
the Open Inference Protocol (``/v2``) and MLflow-style requests.
"""

from __future__ import annotations

__all__ = ["IMAGE_PORT", "IMAGE_UID", "ImageSpec", "containerfile"]

import json
from dataclasses import dataclass, field

from shipline.image.manifest import IMAGE_MODEL_DIR

IMAGE_UID = 10001
IMAGE_PORT = 8080
_VENV = "/opt/shipline/venv"
_HOME = "/var/lib/shipline"


@dataclass(frozen=True)
class ImageSpec:
    """What the Containerfile needs: the base, the wheel and extras to install, the labels."""

    base: str
    python: str
    shipline_wheel: str
    extras: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    require_signed: bool = False


def containerfile(spec: ImageSpec) -> str:
    """The Containerfile text."""
    extras = f"[{','.join(spec.extras)}]" if spec.extras else ""
    major, minor = (int(part) for part in spec.python.split(".")[:2])
    python_check = (
        "import sys; v = sys.version_info[:2]; "
        f"sys.exit(None if v == ({major}, {minor}) else "
        f"'the base image has Python %d.%d; this build installs wheels for Python {spec.python}' "
        "% v)"
    )
    labels = " \\\n      ".join(f"{key}={json.dumps(value)}" for key, value in spec.labels.items())
    signed = "1" if spec.require_signed else "0"
    shipline = f"{_VENV}/bin/shipline"
    return f"""\
# Written by `shipline build`: docker, podman and buildah build it alike.
FROM {spec.base} AS install
COPY wheels/ /tmp/wheels/
RUN python3 -c {json.dumps(python_check)} \\
 && python3 -m venv {_VENV} \\
 && {_VENV}/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      --find-links /tmp/wheels -c /tmp/wheels/constraints.txt \\
      "/tmp/wheels/{spec.shipline_wheel}{extras}" \\
 && {_VENV}/bin/pip uninstall --yes --quiet pip \
 && find {_VENV} -depth -type d -name tests -path "*/site-packages/*" -exec rm -rf {{}} +

FROM {spec.base}
LABEL {labels}
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PATH={_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    HOME={_HOME} \\
    SHIPLINE_HOME={_HOME} \\
    SHIPLINE_IMAGE_MODEL={IMAGE_MODEL_DIR} \\
    SHIPLINE_REQUIRE_SIGNED={signed}
COPY --from=install {_VENV} {_VENV}
COPY model/ {IMAGE_MODEL_DIR}/
RUN ["{shipline}", "container", "check"]
RUN mkdir -p {_HOME} \\
 && chown -R {IMAGE_UID}:0 {_HOME} {IMAGE_MODEL_DIR} \\
 && chmod -R g=u,o-rwx {_HOME} {IMAGE_MODEL_DIR}
USER {IMAGE_UID}:0
WORKDIR {_HOME}
EXPOSE {IMAGE_PORT}
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \\
  CMD ["{shipline}", "container", "health"]
ENTRYPOINT ["{shipline}", "container"]
CMD ["serve"]
"""
