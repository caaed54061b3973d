"""Serving throughput and latency: one random forest, four servers, `wrk` on loopback.

The same fitted forest (101 trees, 20 features; an odd count so that no vote ties make the
verified ONNX form disagree) is served by
  1. `mlflow models serve` (its pyfunc server, 1 worker),
  2. `shipline serve --native` (capture on),
  3. `shipline serve` with the verified ONNX form (capture on),
  4. a bare ASGI handler calling the same ONNX session (no validation, no capture): the ceiling,
and, to show where the distance lies, the ONNX server again with capture off (no target).
Each server is pinned to CPU 0 and `wrk` to CPU 1; 1-row JSON requests, 16 connections.
Targets: shipline native >= 10x MLflow req/s; shipline ONNX >= 40x MLflow req/s; p99 below
MLflow's; shipline ONNX >= 80% of the bare handler.
Then 256-row requests to the ONNX server: V2 REST with JSON data (wrk), with binary tensors
(wrk), and ModelInfer over gRPC with raw tensors (h2load; HTTP/2 on the same connections).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = 16
BIN = Path(sys.executable).parent

CONFIG = """\
name: forest
data:
  source: data/forest.csv
  target: y
  split: {test_size: 0.2, seed: 0}
training:
  task: classification
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 101, random_state: 0, n_jobs: 1}
serving:
  capture: {sample: 1.0}
"""

BARE = """
import orjson, numpy as np, onnxruntime as ort, sys
options = ort.SessionOptions(); options.intra_op_num_threads = 1; options.inter_op_num_threads = 1
session = ort.InferenceSession(open(sys.argv[1], "rb").read(), options, providers=["CPUExecutionProvider"])
names = [i.name for i in session.get_inputs()]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":  # readiness probe
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body, more = b"", True
    while more:
        message = await receive(); body += message.get("body", b""); more = message.get("more_body", False)
    rows = np.asarray(orjson.loads(body)["instances"], dtype=np.float32)
    labels = session.run(None, {n: rows[:, i:i + 1] for i, n in enumerate(names)})[0]
    payload = orjson.dumps({"predictions": labels.tolist()})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def _lua_string(data: bytes) -> str:
    """Bytes as a Lua string literal (decimal escapes: binary bodies survive)."""
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def _wrk(
    url: str, body: str | bytes, work: Path, headers: dict[str, str] | None = None
) -> dict[str, float]:
    script = work / "post.lua"
    raw = body.encode() if isinstance(body, str) else body
    sent = {"Content-Type": "application/json", **(headers or {})}
    script.write_text(
        'wrk.method = "POST"\n'
        + "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in sent.items())
        + f"wrk.body = {_lua_string(raw)}\n"
    )
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            DURATION,
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "p99_ms": latency, "non_2xx": float(errors.group(1)) if errors else 0.0}


def _serve(
    command: list[str], cwd: Path, env: dict[str, str], ready: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(ready)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    """Train once, then measure each server in turn and print ratios."""
    from sklearn.datasets import make_classification

    work = Path(tempfile.mkdtemp(prefix="shipline-serving-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"  # `mlflow models serve` runs `uvicorn` from PATH
    try:
        x, y = make_classification(5000, 20, n_informative=10, random_state=0)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(y=y)
        project = work / "forest"
        (project / "data").mkdir(parents=True)
        frame.to_csv(project / "data" / "forest.csv", index=False)
        (project / "shipline.yaml").write_text(CONFIG)
        subprocess.run(
            [str(BIN / "shipline"), "run"], cwd=project, env=env, check=True, capture_output=True
        )
        shown = json.loads(
            subprocess.run(
                [str(BIN / "shipline"), "models", "show", "forest:1", "--json"],
                cwd=project,
                env=env,
                check=True,
                capture_output=True,
            ).stdout
        )
        onnx = shown["serving_forms"]["onnx"]
        print(
            f"ONNX form verified: {onnx['available']} ({onnx.get('reason', 'labels agree on every held-out row')})"
        )
        body = json.dumps({"instances": [np.round(x[0], 6).tolist()]})
        results: dict[str, dict[str, float]] = {}

        from shipline.project import Project

        with Project.open(project) as opened:
            bundle = opened.load_model("forest:1")
            (work / "model.onnx").write_bytes(opened.store().read_bytes(onnx["digest"]))
        import mlflow.sklearn

        # MLflow 3 stores sklearn models with skops and asks that tree types be trusted
        # explicitly; this model was trained just above.
        mlflow.sklearn.save_model(
            bundle.model,
            str(work / "mlflow-model"),
            input_example=frame.drop(columns="y").head(2),
            skops_trusted_types=["numpy.dtype", "sklearn.tree._tree.Tree"],
        )
        mlflow_body = json.dumps(
            {
                "dataframe_split": {
                    "columns": list(bundle.features),
                    "data": [np.round(x[0], 6).tolist()],
                }
            }
        )

        port = _port()
        process = _serve(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                str(work / "mlflow-model"),
                "--env-manager",
                "local",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            work,
            env,
            f"http://127.0.0.1:{port}/ping",
        )
        results["mlflow"] = _wrk(f"http://127.0.0.1:{port}/invocations", mlflow_body, work)
        _stop(process)
        grpc_port = _port()
        for label, extra in (
            ("shipline native", ["--native"]),
            ("shipline onnx", ["--grpc-port", str(grpc_port)]),
        ):
            port = _port()
            process = _serve(
                [str(BIN / "shipline"), "serve", "forest@staging", "--port", str(port), *extra],
                project,
                env,
                f"http://127.0.0.1:{port}/ping",
            )
            results[label] = _wrk(f"http://127.0.0.1:{port}/invocations", body, work)
            if label == "shipline onnx":
                tensors = _v2_tensors(port, x, work)
                tensors["grpc"] = _grpc_tensors(port, grpc_port, x, work)
            _stop(process)
        results["onnx, capture off"] = _capture_off(project, env, body, work)
        (work / "bare.py").write_text(BARE)
        port = _port()
        process = _serve(
            [
                sys.executable,
                "-c",
                f"import sys, uvicorn; sys.argv=['bare', {str(work / 'model.onnx')!r}]; "
                f"exec(open({str(work / 'bare.py')!r}).read()); "
                f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning', access_log=False)",
            ],
            work,
            env,
            f"http://127.0.0.1:{port}/",
        )
        results["bare asgi + onnx"] = _wrk(f"http://127.0.0.1:{port}/", body, work)
        _stop(process)
        _report(results)
        _report_tensors(tensors)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _capture_off(project: Path, env: dict[str, str], body: str, work: Path) -> dict[str, float]:
    """Where the distance to the bare handler lies: the ONNX server with capture off (not a
    target: capture is part of what the ONNX row measures)."""
    config = project / "shipline.yaml"
    config.write_text(CONFIG.replace("sample: 1.0", "sample: 0.0"))
    port = _port()
    process = _serve(
        [str(BIN / "shipline"), "serve", "forest@staging", "--port", str(port)],
        project,
        env,
        f"http://127.0.0.1:{port}/ping",
    )
    try:
        return _wrk(f"http://127.0.0.1:{port}/invocations", body, work)
    finally:
        _stop(process)
        config.write_text(CONFIG)


def _report(results: dict[str, dict[str, float]]) -> None:
    print(f"wrk {DURATION}, {CONNECTIONS} connections, 1-row JSON, server on 1 core")
    for label, r in results.items():
        print(
            f"  {label:<19} {r['rps']:9.0f} req/s   p99 {r['p99_ms']:8.1f} ms   non-2xx {r['non_2xx']:.0f}"
        )
    base = results["mlflow"]
    native, onnx, bare = (
        results["shipline native"],
        results["shipline onnx"],
        results["bare asgi + onnx"],
    )
    checks = [
        ("shipline native / mlflow", native["rps"] / base["rps"], 10),
        ("shipline onnx / mlflow", onnx["rps"] / base["rps"], 40),
        ("shipline onnx / bare handler", onnx["rps"] / bare["rps"], 0.8),
    ]
    for name, ratio, target in checks:
        print(
            f"  {name:<30} {ratio:6.2f}x  (target >= {target}: {'met' if ratio >= target else 'MISSED'})"
        )
    tail = onnx["p99_ms"] / bare["p99_ms"]
    print(
        f"  p99 shipline onnx / bare handler {tail:6.2f}x  "
        f"(target <= 2: {'met' if tail <= 2 else 'MISSED'})"
    )
    off = results["onnx, capture off"]
    print(
        f"  (capture off, not a target: {off['rps'] / bare['rps']:.2f}x the bare handler's"
        f" req/s, p99 {off['p99_ms'] / bare['p99_ms']:.2f}x)"
    )
    for label in ("shipline native", "shipline onnx"):
        lower = results[label]["p99_ms"] < base["p99_ms"]
        print(
            f"  p99 {label} {results[label]['p99_ms']:.1f} ms vs mlflow {base['p99_ms']:.1f} ms: "
            f"{'met' if lower else 'MISSED'}"
        )


TENSOR_ROWS = 256


def _v2_tensors(port: int, x: np.ndarray, work: Path) -> dict[str, dict[str, float]]:
    """V2 REST with TENSOR_ROWS-row requests: JSON data against binary tensors."""
    rows = np.ascontiguousarray(x[:TENSOR_ROWS], dtype=np.float64)
    url = f"http://127.0.0.1:{port}/v2/models/forest/infer"
    shape = [TENSOR_ROWS, rows.shape[1]]
    as_json = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": shape, "datatype": "FP64", "data": rows.ravel().tolist()}
            ]
        }
    )
    header = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": shape, "datatype": "FP64",
                 "parameters": {"binary_data_size": rows.nbytes}}
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()  # fmt: skip
    binary = header + rows.tobytes()
    length = {"Content-Type": "application/octet-stream",
              "Inference-Header-Content-Length": str(len(header))}  # fmt: skip
    return {
        "json": _wrk(url, as_json, work),
        "binary": _wrk(url, binary, work, length),
    }


def _grpc_tensors(port: int, grpc_port: int, x: np.ndarray, work: Path) -> dict[str, float]:
    """ModelInfer over gRPC with the same rows as raw tensors (as Triton's client sends them),
    driven by h2load (HTTP/2, the same connections and CPU as wrk)."""
    from shipline.server.proto import open_inference_pb2 as pb

    rows = np.ascontiguousarray(x[:TENSOR_ROWS], dtype=np.float64)
    request = pb.ModelInferRequest(model_name="forest", raw_input_contents=[rows.tobytes()])
    request.inputs.add(name="x", datatype="FP64", shape=list(rows.shape))
    payload = request.SerializeToString()
    (work / "infer.grpc").write_bytes(b"\0" + len(payload).to_bytes(4, "big") + payload)
    before = _grpc_answers(port)
    log = work / "h2load.log"
    out = subprocess.run(
        ["taskset", "-c", "1", "h2load", "-c", str(CONNECTIONS), "-m", "1", "-D",
         DURATION.removesuffix("s"), "--log-file", str(log),
         "-H", "content-type: application/grpc", "-H", "te: trailers",
         "-d", str(work / "infer.grpc"),
         f"http://127.0.0.1:{grpc_port}/inference.GRPCInferenceService/ModelInfer"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))  # type: ignore[union-attr]
    elapsed = sorted(int(line.split()[2]) for line in log.read_text().splitlines() if line)
    answered = _grpc_answers(port) - before
    # HTTP/2 says 200 even when gRPC fails: the server's own count of answered calls must match.
    failed = max(len(elapsed) - answered, 0)
    return {
        "rps": rate,
        "p99_ms": elapsed[int(0.99 * (len(elapsed) - 1))] / 1000,
        "non_2xx": failed,
    }


def _grpc_answers(port: int) -> int:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    line = next(
        (x for x in text.splitlines()
         if x.startswith('shipline_requests_total{model="forest",protocol="grpc",status="200"}')),
        None,
    )  # fmt: skip
    return int(float(line.split()[-1])) if line else 0


def _report_tensors(tensors: dict[str, dict[str, float]]) -> None:
    print(f"Open Inference Protocol, {TENSOR_ROWS}-row requests, shipline onnx:")
    for label, r in tensors.items():
        print(f"  {label:<8} {r['rps'] * TENSOR_ROWS:11.0f} rows/s   p99 {r['p99_ms']:7.1f} ms   "
              f"non-2xx {r['non_2xx']:.0f}")  # fmt: skip
    ratio = tensors["binary"]["rps"] / tensors["json"]["rps"]
    print(f"  REST binary tensors / REST JSON: {ratio:.2f}x rows/s")
    ratio = tensors["grpc"]["rps"] / tensors["json"]["rps"]
    print(f"  gRPC raw tensors / REST JSON: {ratio:.2f}x rows/s (gRPC failures: "
          f"{tensors['grpc']['non_2xx']:.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
