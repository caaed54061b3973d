"""The prediction service as clients see it: a real `shipline serve` on a free loopback port."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shipline.project import Project
from shipline.scaffold import create_project
from shipline.scoring.capture import sampled
from tests.served import Server, shipline_env, start_server
from tests.services import free_port
from tests.terminal import run_on_terminal

FEATURES_DROP = ["benign", "sample_id"]


def _env(folder: Path, user: str = "alice") -> dict[str, str]:
    return shipline_env(user)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with three registered versions; `live` points at version 1."""
    folder = tmp_path_factory.mktemp("serving") / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("SHIPLINE_"):
                patch.delenv(key)
        patch.setenv("SHIPLINE_USER", "alice")
        with Project.open(folder) as project:
            for max_iter in (200, 50, 20):
                config.write_text(
                    config.read_text().replace("max_iter: 200", f"max_iter: {max_iter}")
                )
                assert project.run().status == "succeeded"
                config.write_text(
                    config.read_text().replace(f"max_iter: {max_iter}", "max_iter: 200")
                )
            project.promote("cancer", 1, "live")
    return folder


@pytest.fixture
def serve(trained: Path) -> Iterator[object]:
    started: list[Server] = []

    def start(*targets: str, extra_config: str = "") -> Server:
        if extra_config:
            config = trained / "shipline.yaml"
            config.write_text(config.read_text() + extra_config)
        started.append(start_server(trained, *targets))
        return started[-1]

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()
    config = trained / "shipline.yaml"
    config.write_text(config.read_text().split("serving:")[0])


@contextlib.contextmanager
def _as_alice(folder: Path) -> Iterator[Project]:
    """The project on the laptop defaults (no SHIPLINE_ settings), as user alice."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
            patch.delenv(key)
        patch.setenv("SHIPLINE_USER", "alice")
        with Project.open(folder) as project:
            yield project


def _sample(trained: Path, rows: int = 20) -> pd.DataFrame:
    return pd.read_csv(trained / "data" / "breast_cancer.csv").sample(rows, random_state=3)


def test_every_protocol_agrees_with_batch_scoring(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("cancer@live")
    frame = _sample(trained)
    x = frame.drop(columns=FEATURES_DROP)
    x.to_csv(trained / "batch.csv", index=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "shipline",
            "predict",
            "cancer@live",
            "--input",
            "batch.csv",
            "--output",
            "scored.parquet",
            "--probabilities",
        ],
        cwd=trained,
        env=_env(trained),
        check=True,
        capture_output=True,
    )
    batch = pd.read_parquet(trained / "scored.parquet")
    expected = batch["prediction"].tolist()
    columns, rows = list(x.columns), x.values.tolist()
    bodies = [
        {"dataframe_split": {"columns": columns, "data": rows}},
        {"dataframe_records": x.to_dict("records")},
        {"instances": rows},
        {"instances": x.to_dict("records")},
        {"inputs": {c: x[c].tolist() for c in columns}},
    ]
    for body in bodies:
        answer = httpx.post(f"{server.url}/invocations", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
        assert answer.headers["x-model-version"] == "cancer:1"
    as_csv = httpx.post(
        f"{server.url}/invocations",
        content=x.to_csv(index=False),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert as_csv.json()["predictions"] == expected
    with_proba = httpx.post(
        f"{server.url}/invocations?probabilities=true", json=bodies[0], timeout=30
    ).json()
    assert [round(p[1], 8) for p in with_proba["probabilities"]] == [
        round(v, 8) for v in batch["proba_1"]
    ]
    named = [
        {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": x[c].tolist()}
        for c in columns
    ]
    v2 = httpx.post(
        f"{server.url}/v2/models/cancer/infer", json={"inputs": named}, timeout=30
    ).json()
    assert v2["outputs"][0]["data"] == expected and v2["model_version"] == "1"


def test_a_v2_request_exactly_as_the_protocol_shows_it(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("cancer@live")
    row = _sample(trained, 1).drop(columns=FEATURES_DROP).values[0].tolist()
    request = {
        "id": "42",
        "inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": row}],
    }
    answer = httpx.post(f"{server.url}/v2/models/cancer/infer", json=request, timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == "42" and body["model_name"] == "cancer"
    assert body["outputs"][0]["name"] == "predictions" and body["outputs"][0]["shape"] == [1]
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{server.url}/v2/models/cancer/ready").json() == {
        "name": "cancer",
        "ready": True,
    }
    metadata = httpx.get(f"{server.url}/v2/models/cancer").json()
    assert metadata["versions"] == ["1"] and len(metadata["inputs"]) == 30
    assert metadata["inputs"][0] == {"name": "mean radius", "datatype": "FP64", "shape": [-1]}
    assert httpx.get(f"{server.url}/v2/models/nope").status_code == 404


def test_binary_tensors_with_tritons_own_client(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import orjson
    import tritonclient.http as triton

    server = serve("cancer@live")
    matrix = _sample(trained, 25).drop(columns=FEATURES_DROP).values.astype(np.float64)
    tensor = {"name": "x", "shape": [25, 30], "datatype": "FP64", "data": matrix.ravel().tolist()}
    wanted = [{"name": "predictions"}, {"name": "probabilities"}]
    as_json = httpx.post(
        f"{server.url}/v2/models/cancer/infer",
        json={"inputs": [tensor], "outputs": wanted},
        timeout=30,
    ).json()["outputs"]
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        binary = triton.InferInput("x", [25, 30], "FP64")
        binary.set_data_from_numpy(matrix, binary_data=True)
        outputs = [
            triton.InferRequestedOutput("predictions", binary_data=True),
            triton.InferRequestedOutput("probabilities", binary_data=True),
        ]
        result = client.infer("cancer", [binary], outputs=outputs, request_id="bin-1")
        assert result.get_response()["id"] == "bin-1"
        assert result.as_numpy("predictions").tolist() == as_json[0]["data"]
        assert result.as_numpy("probabilities").shape == (25, 2)
        assert result.as_numpy("probabilities").ravel().tolist() == as_json[1]["data"]
        # binary in, JSON out; and one FP32 tensor per column
        columns = []
        for index, name in enumerate(_sample(trained, 1).drop(columns=FEATURES_DROP).columns):
            column = triton.InferInput(name, [25], "FP32")
            column.set_data_from_numpy(matrix[:, index].astype(np.float32), binary_data=True)
            columns.append(column)
        plain = triton.InferRequestedOutput("predictions", binary_data=False)
        by_column = client.infer("cancer", columns, outputs=[plain])
        assert by_column.get_output("predictions")["data"] == as_json[0]["data"]
    finally:
        client.close()

    url = f"{server.url}/v2/models/cancer/infer"

    def head(datatype: str = "FP64", size: int = 240) -> bytes:
        tensor = {"name": "x", "shape": [1, 30], "datatype": datatype}
        return orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": size}}]})

    octet = {"Content-Type": "application/octet-stream"}
    cases = [
        (head() + b"\0" * 239, str(len(head())), "goes past the end of the body"),
        (head() + b"\0" * 241, str(len(head())), "1 bytes of binary data after the last"),
        (head() + b"\0" * 240, str(len(head()) + 10**6), "Inference-Header-Content-Length"),
        (head() + b"\0" * 240, "-1", "Inference-Header-Content-Length"),
        (head("FP32") + b"\0" * 240, str(len(head("FP32"))), "take 120 bytes"),
        (head(size=-5) + b"\0" * 240, str(len(head(size=-5))), "whole number of bytes"),
    ]
    for body, length, message in cases:
        answer = httpx.post(url, content=body, headers={**octet, HEADER: length}, timeout=30)
        assert answer.status_code == 400, (message, answer.text)
        assert message in answer.json()["error"], answer.text
    alone = httpx.post(url, content=head(), headers={"Content-Type": "application/json"})
    assert alone.status_code == 400 and "needs the Inference-Header" in alone.json()["error"]
    without = httpx.post(url, content=head() + b"\0" * 240, headers=octet, timeout=30)
    assert without.status_code == 415
    good = httpx.post(
        url, content=head() + matrix[0].tobytes(), headers={**octet, HEADER: str(len(head()))}
    )
    assert good.status_code == 200 and good.json()["outputs"][0]["data"] == as_json[0]["data"][:1]


HEADER = "Inference-Header-Content-Length"


def test_bad_requests_get_clear_4xx_and_the_server_keeps_serving(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("cancer@live")
    x = _sample(trained, 2).drop(columns=FEATURES_DROP)
    good = {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}
    deep: object = 1
    for _ in range(200):
        deep = [deep]
    too_many = {"instances": [x.values[0].tolist()] * 10_001}
    record = x.to_dict("records")[0]
    cases = [
        ({"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type"),
        (
            {"json": good, "headers": {"Content-Type": "application/json; format=pandas-split"}},
            415,
            "format",
        ),
        (
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "not valid JSON",
        ),
        (
            {"content": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}},
            400,
            "not valid JSON",
        ),
        ({"json": {"instances": [], "inputs": []}}, 400, "exactly one"),
        ({"json": {"rows": []}}, 400, "unknown key 'rows'"),
        (
            {
                "json": {
                    "dataframe_records": [{k: v for k, v in record.items() if k != "mean area"}]
                }
            },
            422,
            "mean area",
        ),
        ({"json": {"dataframe_records": [{**record, "extra": 1}]}}, 422, "extra"),
        (
            {"json": {"dataframe_records": [{**record, "mean radius": "big"}]}},
            422,
            "mean radius: row 0",
        ),
        ({"json": {"instances": [[1.0, 2.0]]}}, 400, "row 0 has 2 values, expected 30"),
        (
            {
                "content": x.to_csv(index=False).replace(str(x.iloc[0, 0]), "inf", 1),
                "headers": {"Content-Type": "text/csv"},
            },
            422,
            "infinite",
        ),
        ({"json": {"inputs": deep}}, 400, "nested deeper"),
        ({"json": too_many}, 413, "10001 rows"),
        (
            {"content": b"0" * (11 * 1024 * 1024), "headers": {"Content-Type": "application/json"}},
            413,
            "larger than",
        ),
    ]
    for kwargs, status, text in cases:
        answer = httpx.post(f"{server.url}/invocations", timeout=30, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == status, (text, answer.status_code, answer.text[:200])
        assert text in answer.json()["message"], answer.text[:300]
    v2_cases = [
        (
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            400,
            "3 columns",
        ),
        (
            {"inputs": [{"name": "x", "shape": [2, 30], "datatype": "FP64", "data": [1.0] * 30}]},
            400,
            "needs 60 values",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FLOAT", "data": [1.0] * 30}]},
            400,
            "datatype",
        ),
        ({"inputs": [{"name": "x"}]}, 400, "name, shape, datatype and data"),
    ]
    for body, status, text in v2_cases:
        answer = httpx.post(f"{server.url}/v2/models/cancer/infer", json=body, timeout=30)
        assert answer.status_code == status and text in answer.json()["error"], answer.text[:300]

    def chunks() -> Iterator[bytes]:
        payload = json.dumps(good).encode()
        yield payload[:10]
        yield payload[10:]

    chunked = httpx.post(
        f"{server.url}/invocations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 200  # no Content-Length: read as a stream, within the limit
    assert httpx.post(f"{server.url}/invocations", json=good, timeout=30).status_code == 200
    metrics = httpx.get(f"{server.url}/metrics").text
    assert (
        'shipline_request_errors_total{model="cancer",protocol="invocations",reason="BAD_REQUEST"}'
        in metrics
    )
    assert 'reason="SCHEMA_ENFORCEMENT_FAILED"' in metrics


def test_hostile_bodies_ids_and_names_get_json_4xx_and_bounded_metrics(  # type: ignore[no-untyped-def]
    serve, trained: Path
) -> None:
    server = serve("cancer@live")
    shapes = [
        ("/invocations", {"instances": 5}),
        ("/invocations", {"inputs": {"a": 1}}),
        ("/invocations", {"inputs": 5}),
        ("/invocations", {"dataframe_split": {"columns": ["a"], "data": [1]}}),
        ("/invocations", {"dataframe_split": {"columns": [{"x": 1}], "data": [[1]]}}),
        ("/invocations", {"dataframe_records": [1, 2]}),
        ("/invocations", {"dataframe_records": [{"mean radius": {"nested": 1}}]}),
        ("/invocations", {"instances": [[1.0] * 30], "params": [1]}),
        ("/v2/models/cancer/infer", {"inputs": 5}),
        (
            "/v2/models/cancer/infer",
            {"inputs": [{"name": 1, "shape": [1], "datatype": "FP64", "data": {"a": 1}}]},
        ),
        (
            "/v2/models/cancer/infer",
            {
                "inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}],
                "outputs": 3,
            },
        ),
    ]
    for path, body in shapes:
        answer = httpx.post(f"{server.url}{path}", json=body, timeout=30)
        assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["request_id"] == answer.headers["x-request-id"]

    x = _sample(trained, 1).drop(columns=FEATURES_DROP)
    tensor = {"name": "x", "shape": [1, 30], "datatype": "FP64", "data": x.values[0].tolist()}
    for bad_id in ("a\r\nSet-Cookie: x=1", "caf\u00e9-\u65e5\u672c", "i" * 100_000):
        answer = httpx.post(
            f"{server.url}/v2/models/cancer/infer",
            json={"id": bad_id, "inputs": [tensor]},
            timeout=30,
        )
        assert answer.status_code == 400 and "id: expected" in answer.json()["error"]
        assert "set-cookie" not in answer.headers and len(answer.headers["x-request-id"]) <= 100
    good = httpx.post(
        f"{server.url}/v2/models/cancer/infer", json={"id": "ok-1", "inputs": [tensor]}, timeout=30
    )
    assert good.status_code == 200 and good.headers["x-request-id"] == "ok-1"

    before = len(httpx.get(f"{server.url}/metrics", timeout=10).text)
    for index in range(300):
        name = f"nosuchmodel{index}"
        assert (
            httpx.post(f"{server.url}/v2/models/{name}/infer", json={}, timeout=10).status_code
            == 404
        )
        assert (
            httpx.post(f"{server.url}/invocations?model={name}", json={}, timeout=10).status_code
            == 404
        )
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert "nosuchmodel" not in metrics and len(metrics) < before + 2000
    assert 'model="unknown",protocol="v2",status="404"' in metrics

    missing = httpx.get(f"{server.url}/no/such/route", headers={"X-Request-Id": "r-9"})
    assert missing.status_code == 404 and missing.json()["request_id"] == "r-9"
    wrong_method = httpx.get(f"{server.url}/invocations")
    assert wrong_method.status_code == 405 and "request_id" in wrong_method.json()

    metadata = httpx.get(f"{server.url}/v2/models/cancer", timeout=10).json()
    answered = good.json()["outputs"][0]["datatype"]
    assert {o["name"]: o["datatype"] for o in metadata["outputs"]}["predictions"] == answered
    assert answered == "INT64"


def test_one_request_that_breaks_the_model_fails_alone(tmp_path: Path) -> None:
    folder = tmp_path / "linear"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(
        config.read_text()
        .replace(
            "sklearn.ensemble.HistGradientBoostingClassifier",
            "sklearn.linear_model.LogisticRegression",
        )
        .replace("params: {max_iter: 200, learning_rate: 0.1}", "params: {max_iter: 5000}")
        + "serving:\n  batching: {max_wait_ms: 200, max_batch_size: 512}\n"
    )
    with _as_alice(folder) as project:
        assert project.run().status == "succeeded"
    server = start_server(folder, "cancer@staging", extra=("--native",))
    try:
        x = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns=FEATURES_DROP)
        rows = x.head(40).values.tolist()
        extreme = [1e308] * 30  # finite, so it passes validation; the scaler overflows on it
        outcomes: dict[int, httpx.Response] = {}

        def send(index: int, row: list[float]) -> None:
            outcomes[index] = httpx.post(
                f"{server.url}/invocations", json={"instances": [row]}, timeout=60
            )

        threads = [threading.Thread(target=send, args=(i, r)) for i, r in enumerate(rows)]
        threads.insert(20, threading.Thread(target=send, args=(-1, extreme)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        bad = outcomes.pop(-1)
        assert bad.status_code == 500 and bad.headers["content-type"] == "application/json"
        assert bad.json()["error_code"] == "INTERNAL_ERROR"
        assert bad.json()["request_id"] == bad.headers["x-request-id"]
        assert "infinity" in bad.json()["message"].lower()
        assert sorted(r.status_code for r in outcomes.values()) == [200] * 40
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert 'status="500"' in metrics and 'reason="INTERNAL_ERROR"' in metrics
    finally:
        server.stop()


def test_listening_beyond_loopback_warns_that_there_is_no_authentication(trained: Path) -> None:
    server = start_server(trained, "cancer@live", extra=("--host", "0.0.0.0"))
    try:
        assert httpx.get(f"{server.url}/ping", timeout=10).status_code == 200
    finally:
        server.stop()
    log = sorted(trained.glob("serve-*.log"), key=lambda p: p.stat().st_mtime)[-1].read_text()
    assert "warning: listening on 0.0.0.0: the prediction server has no authentication" in log


def _wait_until_all_clients_see(seen: list[list[str]], version: str) -> None:
    """Until every client has been answered by ``version`` a few times (a condition, not a
    delay: on a busy machine the swap may take long)."""
    deadline = time.monotonic() + 120
    while not all(answers[-3:] == [version] * 3 for answers in seen):
        assert time.monotonic() < deadline, f"not every client reached {version}"
        time.sleep(0.05)  # poll interval


def test_hot_swap_under_load_fails_no_request(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("cancer@live")
    body = {"instances": _sample(trained, 1).drop(columns=FEATURES_DROP).values.tolist()}
    stop = threading.Event()
    seen: list[list[str]] = [[] for _ in range(4)]
    failures: list[str] = []
    answered = [threading.Event() for _ in range(4)]

    def client(index: int) -> None:
        with httpx.Client(timeout=30) as session:
            while not stop.is_set():
                try:
                    answer = session.post(f"{server.url}/invocations", json=body)
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:100]}")
                seen[index].append(answer.headers.get("x-model-version", "?"))
                answered[index].set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for event in answered:  # every client is served by version 1 before the alias moves
        assert event.wait(timeout=60)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIPLINE_USER", "carol")
        for key in ("SHIPLINE_DB", "SHIPLINE_STORE"):
            patch.delenv(key, raising=False)
        with Project.open(trained) as project:
            for version in (2, 3):
                project.promote("cancer", version, "live")
                _wait_until_all_clients_see(seen, f"cancer:{version}")
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    metrics = httpx.get(f"{server.url}/metrics").text  # before the alias is put back below
    with Project.open(trained) as project:
        project.promote("cancer", 1, "live")
    assert failures == []
    for versions in seen:
        switches = [b for a, b in itertools.pairwise(versions) if a != b]
        assert versions[0] == "cancer:1" and versions[-1] == "cancer:3", versions[:3]
        assert switches == ["cancer:2", "cancer:3"], switches  # each switch seen exactly once
    assert 'shipline_model_swaps_total{model="cancer"} 2.0' in metrics


def _captured(trained: Path) -> pd.DataFrame:
    with Project.open(trained) as project:
        from sqlalchemy import select

        from shipline.store.tables import captures

        with project.db().read() as conn:
            digests = conn.execute(select(captures.c.digest)).scalars().all()
        import io

        frames = [pd.read_parquet(io.BytesIO(project.store().read_bytes(d))) for d in digests]
    return pd.concat(frames) if frames else pd.DataFrame()


def test_the_id_column_is_accepted_echoed_and_captured_with_probabilities(  # type: ignore[no-untyped-def]
    serve, trained: Path
) -> None:
    server = serve("cancer@live")
    x = _sample(trained, 2).drop(columns=["benign"])  # keeps sample_id, the id column
    ids = x["sample_id"].tolist()
    bodies = {
        "records": {"json": {"dataframe_records": x.to_dict("records")}},
        "split": {
            "json": {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}
        },
        "csv": {"content": x.to_csv(index=False), "headers": {"Content-Type": "text/csv"}},
    }
    for name, kwargs in bodies.items():
        answer = httpx.post(
            f"{server.url}/invocations",
            headers={"X-Request-Id": f"id-{name}", **kwargs.pop("headers", {})},
            timeout=30,
            **kwargs,
        )
        assert answer.status_code == 200, (name, answer.text)
        assert [str(v) for v in answer.json()["sample_id"]] == [str(v) for v in ids], name
        assert "probabilities" not in answer.json()  # captured, but only returned when asked
    tensors = [
        {"name": c, "shape": [2], "datatype": "FP64", "data": x[c].tolist()}
        for c in x.columns
        if c != "sample_id"
    ] + [{"name": "sample_id", "shape": [2], "datatype": "BYTES", "data": [str(i) for i in ids]}]
    v2 = httpx.post(
        f"{server.url}/v2/models/cancer/infer", json={"id": "id-v2", "inputs": tensors}, timeout=30
    )
    assert v2.status_code == 200, v2.text
    echoed = {o["name"]: o for o in v2.json()["outputs"]}["sample_id"]
    assert echoed["data"] == [str(i) for i in ids]
    # A number where the others sent text is kept (as text); an object is refused, naming the
    # row, before it can reach the captured column.
    record = x.to_dict("records")[0]
    number = httpx.post(
        f"{server.url}/invocations",
        headers={"X-Request-Id": "id-number"},
        json={"dataframe_records": [{**record, "sample_id": 1e308}]},
        timeout=30,
    )
    assert number.status_code == 200 and number.json()["sample_id"] == [1e308]
    hostile = httpx.post(
        f"{server.url}/invocations",
        json={"dataframe_records": [record, {**record, "sample_id": {"$ne": 1}}]},
        timeout=30,
    )
    assert hostile.status_code == 422
    assert "sample_id: row 1: expected text or a number" in hostile.json()["message"]
    assert server.stop() == 0
    captured = _captured(trained)
    mine = captured[captured["request_id"].str.startswith("id-")]
    assert len(mine) == 9
    assert {str(v) for v in mine["sample_id"]} == {str(i) for i in ids} | {"1e+308"}
    probabilities = mine["probabilities"].tolist()
    assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-6 for p in probabilities)


def test_capture_counts_every_row_and_survives_sigterm(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    before = len(_captured(trained))
    server = serve("cancer@live")
    x = _sample(trained, 2).drop(columns=FEATURES_DROP)
    ids = [f"req-{i}" for i in range(37)]
    for request_id in ids:
        answer = httpx.post(
            f"{server.url}/invocations",
            json={"dataframe_records": x.to_dict("records")},
            headers={"X-Request-Id": request_id},
            timeout=30,
        )
        assert answer.headers["x-request-id"] == request_id
    assert server.stop() == 0  # drained, flushed, exited cleanly
    captured = _captured(trained)
    new = captured.iloc[before:] if before else captured
    assert len(new) == 74
    assert set(new["request_id"]) == set(ids) and set(new["row"]) == {0, 1}
    assert {"mean radius", "prediction", "captured_at"} <= set(new.columns)


def test_capture_sampling_keeps_the_sampled_share(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    before = len(_captured(trained))
    server = serve("cancer@live", extra_config="serving:\n  capture: {sample: 0.3}\n")
    x = _sample(trained, 1).drop(columns=FEATURES_DROP)
    ids = [f"sample-{i}" for i in range(60)]
    for request_id in ids:
        httpx.post(
            f"{server.url}/invocations",
            json={"instances": x.values.tolist()},
            headers={"X-Request-Id": request_id},
            timeout=30,
        )
    assert server.stop() == 0
    expected = sum(sampled(i, 0.3) for i in ids)
    assert 5 < expected < 40
    assert len(_captured(trained)) - before == expected


def test_labels_join_by_request_id(trained: Path) -> None:
    def labels(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipline", "labels", "add", *args],
            check=False,
            cwd=trained,
            env=_env(trained),
            capture_output=True,
            text=True,
        )

    served = sorted(set(_captured(trained)["request_id"]))[:2]
    assert len(served) == 2
    (trained / "labels.csv").write_text(f"request_id,label\n{served[0]},1\n{served[1]},0\n")
    added = labels("labels.csv", "--json")
    assert added.returncode == 0 and json.loads(added.stdout) == {"labels": 2}
    (trained / "bad.csv").write_text("id,label\n1,2\n")
    bad = labels("bad.csv")
    assert bad.returncode == 1 and "missing column 'request_id'" in bad.stderr
    (trained / "unknown.csv").write_text(
        f"request_id,label\n{served[0]},1\nnever-served,0\nnor-this,1\n"
    )
    unknown = labels("unknown.csv")
    assert unknown.returncode == 1
    assert "2 of 3 rows name a request id that was never captured" in unknown.stderr
    assert "3 ('never-served')" in unknown.stderr and "nothing was added" in unknown.stderr
    kept = labels("unknown.csv", "--allow-unknown", "--json")
    assert kept.returncode == 0 and json.loads(kept.stdout) == {"labels": 3}


def test_serve_refuses_bad_targets(trained: Path) -> None:
    for args, message in (
        (["churn"], "NAME@ALIAS"),
        (["cancer@nowhere"], "no alias 'nowhere'"),
        (["../x@live"], "model name"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "shipline", "serve", *args, "--port", str(free_port())],
            check=False,
            cwd=trained,
            env=_env(trained),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode in (1, 2) and message in result.stderr, result.stderr


def test_batch_scoring_in_chunks_matches_online_and_refuses_bad_files(trained: Path) -> None:
    from shipline.scoring import batch_scoring, load_version, score_file

    frame = pd.read_csv(trained / "data" / "breast_cancer.csv").drop(columns=FEATURES_DROP)
    big = pd.concat([frame] * 3, ignore_index=True)
    big.to_csv(trained / "big.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_scoring, "CHUNK_ROWS", 100)
        with Project.open(trained) as project:
            model = load_version(project.store(), project.version("cancer@live"))
            rows = score_file(model, trained / "big.csv", trained / "big-out.csv")
            online = model.predict(
                model.frame({c: frame[c].tolist() for c in frame.columns}, len(frame))
            )
    assert rows == len(big)
    scored = pd.read_csv(trained / "big-out.csv")
    assert scored["prediction"].tolist() == online.values * 3
    assert list(scored.columns[:-1]) == list(big.columns)
    frame.drop(columns=["mean area"]).to_csv(trained / "short.csv", index=False)
    for args, message in (
        (["--input", "short.csv", "--output", "o.csv"], "missing input column 'mean area'"),
        (["--input", "big.csv", "--output", "big.csv"], "must not be the input"),
        (["--input", "big.csv", "--output", "o.txt"], "expected a .csv or .parquet"),
        (["--input", "nope.csv", "--output", "o.csv"], "no such file"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "shipline", "predict", "cancer@live", *args],
            check=False,
            cwd=trained,
            env=_env(trained),
            capture_output=True,
            text=True,
        )
        assert result.returncode in (1, 2) and message in result.stderr, result.stderr
        assert not (trained / "o.csv").exists()


def test_the_onnx_form_is_served_and_swaps_with_a_native_version(tmp_path: Path) -> None:
    folder = tmp_path / "forest"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    text = config.read_text()
    config.write_text(
        text.replace(
            "sklearn.ensemble.HistGradientBoostingClassifier",
            "sklearn.ensemble.RandomForestClassifier",
        ).replace(
            "params: {max_iter: 200, learning_rate: 0.1}",
            "params: {n_estimators: 21, random_state: 0}",
        )
    )
    env = _env(folder)
    with _as_alice(folder) as project:
        assert project.run().status == "succeeded"
        forms = project.version("cancer:1").details["serving_forms"]
        assert forms["onnx"]["available"] is True, forms
        project.promote("cancer", 1, "live")
    port = free_port()
    with (folder / "serve.log").open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shipline",
                "serve",
                "cancer@live",
                "--port",
                str(port),
                "--poll",
                "0.2",
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)  # poll interval
        assert 'form="onnx"' in httpx.get(f"{server.url}/metrics").text
        x = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns=FEATURES_DROP).head(40)
        x.to_csv(folder / "in.csv", index=False)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "shipline",
                "predict",
                "cancer@live",
                "-i",
                "in.csv",
                "-o",
                "out.csv",
            ],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
        online = httpx.post(
            f"{server.url}/invocations", json={"dataframe_records": x.to_dict("records")}
        ).json()
        assert online["predictions"] == pd.read_csv(folder / "out.csv")["prediction"].tolist()
        # Version 2 without an ONNX form (serving.onnx off): served natively.
        config.write_text(text + "serving:\n  onnx: false\n")
        with pytest.MonkeyPatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
                patch.delenv(key)
            with Project.open(folder) as project:
                assert project.run().status == "succeeded"
                project.promote("cancer", 2, "live")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = httpx.post(
                f"{server.url}/invocations", json={"dataframe_records": x.to_dict("records")}
            )
            assert answer.status_code == 200
            if answer.headers["x-model-version"] == "cancer:2":
                break
            time.sleep(0.1)  # poll interval
        assert answer.headers["x-model-version"] == "cancer:2"
        assert 'form="native"' in httpx.get(f"{server.url}/metrics").text
    finally:
        assert server.stop() == 0


def test_batch_scoring_shows_progress_on_a_terminal(trained: Path) -> None:
    pd.read_csv(trained / "data" / "breast_cancer.csv").drop(columns=FEATURES_DROP).to_csv(
        trained / "p.csv", index=False
    )
    code, out, shown = run_on_terminal(
        [
            sys.executable,
            "-m",
            "shipline",
            "predict",
            "cancer@live",
            "-i",
            "p.csv",
            "-o",
            "p-out.csv",
        ],
        trained,
        _env(trained),
    )
    assert code == 0 and "scored 569 rows" in out
    assert b"scoring:" in shown and b"rows" in shown


def _metric(server: Server, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[-1])


def test_stalled_clients_are_cut_off_and_health_checks_still_answer(serve, trained: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    server = serve(
        "cancer@live",
        extra_config="serving:\n  limits: {header_timeout_s: 1, body_timeout_s: 1, "
        "max_connections: 60}\n",
    )
    port = int(server.url.rsplit(":", 1)[1])
    stalled = []
    for index in range(50):
        conn = socket.create_connection(("127.0.0.1", port), timeout=60)
        if index % 2:  # headers sent, body never finished
            conn.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
        else:  # headers never finished (slowloris)
            conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        stalled.append(conn)
    assert httpx.get(f"{server.url}/ping", timeout=10).status_code == 200  # still answers
    extra = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(15)]
    refused = [c.recv(200) for c in extra[-4:]]  # over the cap: answered 503 at once
    assert all(r.startswith(b"HTTP/1.1 503") for r in refused), refused
    answers = [c.recv(200) for c in stalled]  # every stalled client is cut off
    assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers), answers
    assert sum(a.startswith(b"HTTP/1.1 408") for a in answers) == 25
    for conn in stalled + extra:
        conn.close()
    deadline = time.monotonic() + 120
    while httpx.get(f"{server.url}/ping", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)  # poll interval
    # Headers that never end are cut off at 32 KiB (431), however they arrive.
    for head in (
        b"GET /ping?" + b"a" * 40_000,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 40_000,
        b"POST /invocations HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 5_000,
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            for start in range(0, len(head), 4096):
                try:
                    conn.sendall(head[start : start + 4096])
                except OSError:  # closed under us: the answer is already waiting
                    break
            answer = conn.recv(300)
        assert answer.startswith(b"HTTP/1.1 431"), answer
        assert b"32768 bytes" in answer
    # A large body after small headers is no header problem.
    x = _sample(trained, 300).drop(columns=FEATURES_DROP)
    large = {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}
    assert httpx.post(f"{server.url}/invocations", json=large, timeout=30).status_code == 200
    while httpx.get(f"{server.url}/ping", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)  # poll interval


def test_over_limit_csv_is_refused_unparsed_and_large_bodies_are_served(  # type: ignore[no-untyped-def]
    serve, trained: Path
) -> None:
    server = serve("cancer@live")
    x = pd.read_csv(trained / "data" / "breast_cancer.csv").drop(columns=FEATURES_DROP)
    big = pd.concat([x] * 18).head(10_000)  # the row limit, about 2 MiB of CSV
    served = httpx.post(
        f"{server.url}/invocations",
        content=big.to_csv(index=False),
        headers={"Content-Type": "text/csv"},
        timeout=120,
    )
    assert served.status_code == 200 and len(served.json()["predictions"]) == 10_000
    over = pd.concat([big, big.head(5)])
    broken_tail = over.to_csv(index=False) + "1,2\n"  # unparseable: a parser would say 400
    refused = httpx.post(
        f"{server.url}/invocations",
        content=broken_tail,
        headers={"Content-Type": "text/csv"},
        timeout=120,
    )
    assert refused.status_code == 413 and "10006 rows" in refused.json()["message"]


def test_captures_are_bounded_in_memory_while_the_store_cannot_be_written(  # type: ignore[no-untyped-def]
    serve,
    trained: Path,
) -> None:
    server = serve("cancer@live", extra_config="serving:\n  capture: {max_backlog_rows: 40}\n")
    objects = trained / ".shipline" / "store" / "objects"
    parked = objects.with_name("objects-parked")
    x = _sample(trained, 5).drop(columns=FEATURES_DROP)
    body = {"dataframe_records": x.to_dict("records")}
    objects.rename(parked)
    objects.write_text("not a folder: every write into the store fails")
    try:
        for _ in range(30):  # 150 rows against a backlog of 40
            assert httpx.post(f"{server.url}/invocations", json=body, timeout=30).status_code == 200
        assert _metric(server, "shipline_capture_backlog_rows") <= 40
        assert _metric(server, "shipline_capture_dropped_rows_total") >= 110
    finally:
        objects.unlink()
        parked.rename(objects)
    deadline = time.monotonic() + 120
    while _metric(server, "shipline_capture_backlog_rows") > 0:  # written once the store is back
        assert time.monotonic() < deadline, "the kept rows were never written"
        time.sleep(0.2)  # poll interval
    assert _metric(server, "shipline_captured_rows_total") >= 40


@pytest.mark.parametrize("name", ["invocations", "v2"])
def test_every_serving_protocol_conforms(serve, trained: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """Each registered protocol's routes are its own, and every error under its paths is JSON
    in its own shape, with the request id, counted in /metrics."""
    from starlette.routing import Route

    from shipline.config.schema import ServingConfig
    from shipline.server.service import PredictionService
    from shipline.server.serving_protocol import SERVING_PROTOCOLS, Gateway

    assert set(SERVING_PROTOCOLS.names()) >= {"invocations", "v2"}
    protocol = SERVING_PROTOCOLS.get(name)
    with _as_alice(trained) as project:
        gateway = Gateway(PredictionService(project.serving_source(), [], ServingConfig()))
    claimed = {
        (route.path, method)
        for other in SERVING_PROTOCOLS
        if other.name != name
        for route in other.routes(gateway)
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    own = [route for route in protocol.routes(gateway) if isinstance(route, Route)]
    assert own and not any((r.path, m) in claimed for r in own for m in r.methods or ())
    body = protocol.error_body("NOT_FOUND", "no such thing")
    assert "no such thing" in str(body.values())
    server = serve("cancer@live")
    before = _not_found_count(server)
    missing = f"{server.url}{protocol.path_prefix.rstrip('/')}/no-such-route"
    answer = httpx.get(missing, headers={"x-request-id": "conformance-1"}, timeout=30)
    assert answer.status_code == 404 and answer.headers["x-request-id"] == "conformance-1"
    assert set(answer.json()) == {*body, "request_id"}
    assert _not_found_count(server) == before + 1


def _not_found_count(server: Server) -> float:
    """Requests answered 404 outside any model, as /metrics counts them (0 before the first)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    labels = ('protocol="other"', 'status="404"', 'model="unknown"')
    found = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("shipline_requests_total{") and all(x in line for x in labels)
    ]
    return sum(found)
