"""The capture buffer keeps each request as handed over and builds columns at flush time."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import parquet

from shipline.errors import StorageError
from shipline.scoring.capture import CaptureBuffer


class _Sink:
    def __init__(self) -> None:
        self.tables: list[tuple[str, int, pa.Table]] = []
        self.fail = False

    def write_capture(self, model: str, version: int, parquet_bytes: bytes) -> None:
        if self.fail:
            raise OSError("store down")
        self.tables.append((model, version, parquet.read_table(io.BytesIO(parquet_bytes))))


def test_requests_become_columns_with_nulls_where_a_request_sent_nothing() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink, flush_rows=4)
    assert not buffer.add("m", 1, "r1", {"a": np.array([1.0, 2.0]), "n": np.array([3, 4])},
                          [0, 1], 2, [[0.9, 0.1], [0.2, 0.8]], {"id": ["x", "y"]})  # fmt: skip
    assert not buffer.add("m", 1, "r2", {"a": np.array([5.0]), "t": ["hello"]}, [1], 1)
    assert buffer.add("m", 1, "r3", {"a": [7.5], "n": np.array([9])}, [0], 1, [[0.6, 0.4]])
    assert buffer.backlog == 4
    assert buffer.flush() == 4 and buffer.backlog == 0
    ((model, version, table),) = sink.tables
    assert (model, version) == ("m", 1)
    rows = table.to_pylist()
    assert [r["request_id"] for r in rows] == ["r1", "r1", "r2", "r3"]
    assert [r["row"] for r in rows] == [0, 1, 0, 0]
    assert [r["a"] for r in rows] == [1.0, 2.0, 5.0, 7.5]
    assert [r["n"] for r in rows] == [3, 4, None, 9]
    assert [r["t"] for r in rows] == [None, None, "hello", None]
    assert [r["id"] for r in rows] == ["x", "y", None, None]
    assert [r["prediction"] for r in rows] == [0, 1, 1, 0]
    assert [r["probabilities"] for r in rows] == [[0.9, 0.1], [0.2, 0.8], None, [0.6, 0.4]]
    assert table.schema.field("a").type == pa.float64()
    assert table.schema.field("n").type == pa.int64()
    assert len({r["captured_at"][:10] for r in rows}) == 1


def test_arrays_of_one_type_give_the_same_column_as_lists() -> None:
    by_array, by_list = _Sink(), _Sink()
    for sink, make in ((by_array, np.array), (by_list, list)):
        buffer = CaptureBuffer(sink)
        for index in range(3):
            columns = {
                "f": make([0.5 * index, 1.5]),
                "i": make([index, 2]),
                "b": make([True, index == 1]),
            }
            buffer.add("m", 2, f"r{index}", columns, [1, 0], 2)
        buffer.flush()
    array_table, list_table = by_array.tables[0][2], by_list.tables[0][2]
    assert array_table.schema == list_table.schema
    stamp = array_table.schema.get_field_index("captured_at")  # the clock moved on between
    assert array_table.remove_column(stamp).equals(list_table.remove_column(stamp))


def test_a_failed_write_keeps_the_rows_for_the_next_flush_and_the_backlog_is_bounded() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink, max_backlog_rows=5)
    buffer.add("m", 1, "r1", {"a": np.array([1.0, 2.0])}, [0, 1], 2)
    sink.fail = True
    with pytest.raises(StorageError, match="2 captured rows"):
        buffer.flush()
    assert buffer.backlog == 2
    buffer.add("m", 1, "r2", {"a": np.array([3.0, 4.0])}, [1, 1], 2)
    assert not buffer.add("m", 1, "r3", {"a": np.array([5.0, 6.0])}, [1, 1], 2)  # over 5
    assert buffer.dropped == 2 and buffer.backlog == 4
    sink.fail = False
    assert buffer.flush() == 4
    rows = sink.tables[0][2].to_pylist()
    assert [(r["request_id"], r["a"]) for r in rows] == [
        ("r1", 1.0), ("r1", 2.0), ("r2", 3.0), ("r2", 4.0)
    ]  # fmt: skip
    assert buffer.backlog == 0


def test_requests_of_one_batch_share_its_inputs_and_each_keeps_its_own_rows() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink)
    batch = {"a": np.arange(6, dtype=np.float64), "b": np.arange(6) * 10}
    other = {"a": np.array([100.0]), "b": np.array([1000])}
    # rows 0-1 and 2 of the batch, then another batch, then rows 5 (4 was not sampled)
    buffer.add("m", 1, "r1", batch, [1, 1], 2, None, {"id": ["p", "q"]}, offset=0)
    buffer.add("m", 1, "r2", batch, [0], 1, None, None, offset=2)
    buffer.add("m", 1, "r9", other, [1], 1, None, {"id": ["z"]}, offset=0)
    buffer.add("m", 1, "r3", batch, [0], 1, None, None, offset=5)
    buffer.flush()
    rows = sink.tables[0][2].to_pylist()
    assert [(r["request_id"], r["row"], r["a"], r["b"], r["id"]) for r in rows] == [
        ("r1", 0, 0.0, 0, "p"),
        ("r1", 1, 1.0, 10, "q"),
        ("r2", 0, 2.0, 20, None),
        ("r9", 0, 100.0, 1000, "z"),
        ("r3", 0, 5.0, 50, None),
    ]


def test_ids_sent_as_numbers_or_text_are_one_text_column() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink)
    buffer.add("m", 1, "r1", {"a": np.array([1.0])}, [1], 1, None, {"id": ["x-1"]})
    buffer.add("m", 1, "r2", {"a": np.array([2.0, 3.0])}, [1, 0], 2, None, {"id": [7, 1e308]})
    buffer.add("m", 1, "r3", {"a": np.array([4.0])}, [0], 1)
    buffer.flush()
    table = sink.tables[0][2]
    assert table.schema.field("id").type == pa.string()
    assert table.column("id").to_pylist() == ["x-1", "7", "1e+308", None]


def test_a_flush_is_asked_for_once_until_one_takes_the_rows() -> None:
    buffer = CaptureBuffer(_Sink(), flush_rows=2)
    asked = [buffer.add("m", 1, f"r{i}", {"a": np.array([float(i)])}, [0], 1) for i in range(4)]
    assert asked == [False, True, False, False]  # the requests after the first ask do not
    buffer.flush()
    asked = [buffer.add("m", 1, f"s{i}", {"a": np.array([float(i)])}, [0], 1) for i in range(3)]
    assert asked == [False, True, False]


def test_columns_keep_every_row_of_many_batches_partly_captured() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink)
    rng = np.random.default_rng(7)
    expected: dict[str, list[object]] = {"f": [], "i": [], "b": [], "r": []}
    for index in range(40):  # 640 rows: the columns grow several times
        batch = {
            "f": rng.random(16),
            "i": rng.integers(-5, 5, 16),
            "b": rng.random(16) > 0.5,
            # int64 in the early batches, float64 later: the column becomes floats
            "r": np.arange(16) if index < 20 else np.arange(16) + 0.5,
        }
        taken = [(0, 16)] if index % 3 else [(0, 5), (9, 7)]  # rows 5-8 not sampled
        for start, rows in taken:
            buffer.add("m", 1, f"q{index}-{start}", batch, [1] * rows, rows, offset=start)
            for name, values in expected.items():
                values.extend(batch[name][start : start + rows].tolist())
    buffer.flush()
    table = sink.tables[0][2]
    assert table.num_rows == len(expected["f"]) == 40 * 16 - 14 * 4
    for name, values in expected.items():
        assert table.column(name).to_pylist() == values, name
    assert table.schema.field("b").type == pa.bool_()
    assert table.schema.field("r").type == pa.float64()


def test_rows_kept_after_a_failed_write_join_those_buffered_since() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink)
    buffer.add("m", 1, "r1", {"a": np.array([1.0, 2.0])}, [0, 1], 2, [[0.9, 0.1], [0.3, 0.7]])
    sink.fail = True
    with pytest.raises(StorageError):
        buffer.flush()
    buffer.add("m", 1, "r2", {"a": np.array([3.0]), "b": ["x"]}, [1], 1, None, {"id": ["k"]})
    buffer.add("m", 1, "r3", {"b": ["y"]}, [0], 1, [[0.5, 0.5]])
    sink.fail = False
    assert buffer.flush() == 4
    rows = sink.tables[0][2].to_pylist()
    assert [(r["request_id"], r["a"], r["b"], r["id"]) for r in rows] == [
        ("r1", 1.0, None, None),
        ("r1", 2.0, None, None),
        ("r2", 3.0, "x", "k"),
        ("r3", None, "y", None),
    ]
    assert [r["probabilities"] for r in rows] == [[0.9, 0.1], [0.3, 0.7], None, [0.5, 0.5]]
    assert [r["prediction"] for r in rows] == [0, 1, 1, 0]


def test_a_paced_flush_writes_the_same_rows_as_an_unpaced_one() -> None:
    tables = []
    for paced in (False, True):
        sink = _Sink()
        buffer = CaptureBuffer(sink)
        for index in range(30):
            batch = {"a": np.arange(4) + index * 4.0, "t": ["u", "v", "w", "x"]}
            buffer.add("m", 1, f"r{index}", batch, [0, 1, 0, 1], 4, [[0.5, 0.5]] * 4)
        assert buffer.flush(paced=paced) == 120
        tables.append(sink.tables[0][2].drop_columns(["captured_at"]))
    assert tables[0].equals(tables[1])


def test_the_pacer_keeps_to_its_share_of_the_time_and_hurries_when_behind() -> None:
    from shipline.scoring.capture import _MAX_PAUSE_S, _Pacer

    cpu, wall, behind = [1.0], [50.0], [False]
    pauses: list[float] = []
    pacer = _Pacer(0.1, lambda: behind[0], lambda: cpu[0], lambda: wall[0], pauses.append)
    cpu[0], wall[0] = 1.002, 50.004  # 2 ms of CPU in 4 ms: 20 ms in all are due
    pacer()
    assert pauses == [pytest.approx(0.016)]
    wall[0] = 50.030  # already past what 2 ms of CPU at a tenth of the core asks
    pacer()
    assert len(pauses) == 1
    cpu[0] = 1.020  # 20 ms of CPU: 200 ms are due, but no single pause is longer than the cap
    pacer()
    assert pauses[-1] == _MAX_PAUSE_S
    behind[0] = True  # rows pile up (or the server stops): straight on
    cpu[0] = 1.050
    pacer()
    assert len(pauses) == 2


def test_a_request_of_no_rows_leaves_nothing_to_write() -> None:
    sink = _Sink()
    buffer = CaptureBuffer(sink)
    assert not buffer.add("m", 1, "r0", {"a": np.array([], dtype=np.float64)}, [], 0)
    assert buffer.backlog == 0 and buffer.flush() == 0 and sink.tables == []
    buffer.add("m", 1, "r1", {"a": np.array([1.0])}, [1], 1)
    assert buffer.flush() == 1 and sink.tables[0][2].column("request_id").to_pylist() == ["r1"]
