"""The ONNX form of a model: converted with skl2onnx, kept only if it predicts like the original.

Verification runs both forms on the held-out split: classification labels must agree on every
row and class probabilities within ``TOLERANCE`` (absolute); regression values within
``TOLERANCE`` relative and absolute. Models with text inputs, or that do not convert, are served
natively, and the reason is recorded.
"""

from __future__ import annotations

__all__ = ["TOLERANCE", "OnnxSession", "convert_to_onnx", "open_onnx"]

import warnings
from typing import Any

import numpy as np
import pandas as pd

from shipline.numeric_columns import NumericColumns
from shipline.training.bundle import ModelBundle

TOLERANCE = 1e-4
_BOOLEAN_AS_INT = r"Field onnx\.AttributeProto\.ints: Expected an int, got a boolean"
_NUMERIC = ("int", "float", "uint")


def convert_to_onnx(
    bundle: ModelBundle, holdout: pd.DataFrame
) -> tuple[bytes | None, dict[str, Any]]:
    """The verified ONNX bytes (or None) and a report saying why."""
    inputs = bundle.signature["inputs"]
    text = [c["name"] for c in inputs if not c["dtype"].startswith(_NUMERIC)]
    if text:
        return None, {
            "available": False,
            "reason": f"text inputs ({', '.join(text)}) are served natively",
        }
    names = [c["name"] for c in inputs]
    try:
        with warnings.catch_warnings():
            # skl2onnx's tree converters pass booleans as ONNX integers: protobuf 6 warns
            # (7.34+ refuses, hence protobuf<7), which must not fail a run under -W error.
            warnings.filterwarnings("ignore", message=_BOOLEAN_AS_INT, category=DeprecationWarning)
            onnx_bytes = bundle.model_flavour.to_onnx(bundle.model, names, bundle.task)
    except NotImplementedError as error:
        return None, {"available": False, "reason": str(error) or "no ONNX conversion"}
    except Exception as error:  # converters raise many kinds for unsupported models
        return None, {"available": False, "reason": _failure(error)}
    try:
        session = open_onnx(onnx_bytes, bundle)
        return _verified(onnx_bytes, session, bundle, holdout[list(bundle.features)])
    except Exception as error:  # onnxruntime raises many kinds for models it cannot run
        return None, {"available": False, "reason": _failure(error)}


def _failure(error: Exception) -> str:
    message = str(error).strip()
    reason = message.splitlines()[0][:300] if message else type(error).__name__
    return f"conversion failed: {type(error).__name__}: {reason}"


def _verified(
    onnx_bytes: bytes, session: OnnxSession, bundle: ModelBundle, x: pd.DataFrame
) -> tuple[bytes | None, dict[str, Any]]:
    native, native_probabilities = bundle.predict(x, probabilities=True)
    converted, probabilities = session.run(x)
    report: dict[str, Any] = {"tolerance": TOLERANCE, "rows_checked": len(x)}
    if bundle.task == "classification":
        agree = float(np.mean(np.asarray(converted) == native)) if len(x) else 1.0
        gap = (
            float(np.max(np.abs(probabilities - native_probabilities)))
            if probabilities is not None and native_probabilities is not None and len(x)
            else 0.0
        )
        report |= {"labels_agree": agree, "max_probability_difference": gap}
        ok = agree == 1.0 and gap <= TOLERANCE
    else:
        gap = (
            float(np.max(np.abs(np.asarray(converted, dtype=float).ravel() - native)))
            if len(x)
            else 0.0
        )
        report |= {"max_difference": gap}
        ok = bool(
            np.allclose(
                np.asarray(converted, dtype=float).ravel(), native, rtol=TOLERANCE, atol=TOLERANCE
            )
        )
    report["available"] = ok
    if not ok:
        report["reason"] = "ONNX predictions differ from the native model beyond the tolerance"
    return (onnx_bytes if ok else None), report


class OnnxSession:
    """An onnxruntime session fed one column per input, as the conversion declared them."""

    def __init__(self, onnx_bytes: bytes, bundle: ModelBundle) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread per call: concurrency comes from batching and the server's workers.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        # The converter may rename inputs (spaces become underscores); they keep their order.
        declared = [i.name for i in self.session.get_inputs()]
        self.names = list(
            zip([c["name"] for c in bundle.signature["inputs"]], declared, strict=True)
        )
        self.signature_names = [name for name, _ in self.names]
        self.classification = bundle.task == "classification"

    def run(self, frame: pd.DataFrame | dict[str, Any]) -> tuple[Any, np.ndarray | None]:
        """Predicted labels or values, and probabilities for classifiers (frame or arrays)."""
        if isinstance(frame, NumericColumns) and list(frame) == self.signature_names:
            # One conversion for the whole matrix; each input a column of it (as a bare
            # onnxruntime caller would feed it).
            matrix = frame.matrix.astype(np.float32)
            feeds = {
                onnx_name: matrix[:, index : index + 1]
                for index, (_, onnx_name) in enumerate(self.names)
            }
        else:
            columns: Any = frame
            if isinstance(frame, pd.DataFrame):
                columns = {
                    n: frame[n].to_numpy(dtype=np.float64, na_value=np.nan) for n, _ in self.names
                }
            feeds = {
                onnx_name: np.asarray(columns[name], dtype=np.float32).reshape(-1, 1)
                for name, onnx_name in self.names
            }
        outputs = self.session.run(None, feeds)
        if self.classification:
            return outputs[0], np.asarray(outputs[1], dtype=np.float64)
        return np.asarray(outputs[0]).ravel(), None


def open_onnx(onnx_bytes: bytes, bundle: ModelBundle) -> OnnxSession:
    """A ready session for verified ONNX bytes."""
    return OnnxSession(onnx_bytes, bundle)
