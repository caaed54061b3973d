"""The team server's management REST API (``/api/v1``): every operation on shared state, for
the CLI in remote mode, the Python API, the dashboard and scripts, behind verified
credentials and the role table of ``shipline.identity.role``."""
