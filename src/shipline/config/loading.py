"""Read ``shipline.yaml`` safely and turn every mistake in it into one clear report.

YAML is parsed with the safe loader only (no ``!!python/...`` tags), size and alias expansion
are capped, ``${VAR}`` is interpolated from the environment in string values, and every
problem (YAML syntax, unknown keys, wrong types, cross-field rules) is collected with its key
path and line before anything is raised.
"""

from __future__ import annotations

__all__ = ["MAX_CONFIG_BYTES", "config_digest", "load_config", "parse_config"]

import difflib
import os
import re
import stat
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from shipline.config.metric_references import Loc, metric_references
from shipline.config.schema import CLASSIFICATION_METRICS, REGRESSION_METRICS, ModelConfig
from shipline.errors import ConfigError, Problem
from shipline.settings import shown_path

MAX_CONFIG_BYTES = 256 * 1024
MAX_EXPANDED_NODES = 20_000
MAX_NESTING = 50
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> ModelConfig:
    """Load and validate a shipline.yaml file, or raise ConfigError listing every problem."""
    shown = shown_path(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            # Reading a FIFO blocks forever and /dev/zero never ends: refuse before opening.
            raise ConfigError(
                shown, [Problem("", "is not a regular file (a FIFO, device or socket)")]
            )
        with path.open("rb") as handle:
            raw: bytes | None = handle.read(MAX_CONFIG_BYTES + 1)
        if raw is not None and len(raw) > MAX_CONFIG_BYTES:
            raw = None
    except FileNotFoundError:
        raise ConfigError(
            shown, [Problem("", "file not found (run 'shipline init' to create one)")]
        ) from None
    except IsADirectoryError:
        raise ConfigError(shown, [Problem("", "is a directory, expected a YAML file")]) from None
    except OSError as error:
        raise ConfigError(shown, [Problem("", f"cannot be read: {error.strerror}")]) from None
    if raw is None:
        raise ConfigError(shown, [Problem("", f"is larger than {MAX_CONFIG_BYTES} bytes")])
    return parse_config(raw, shown, environ)


def config_digest(config: ModelConfig) -> str:
    """A stable digest of the validated configuration (its canonical JSON)."""
    import blake3
    import orjson

    canonical = orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return blake3.blake3(canonical).hexdigest()


def parse_config(
    raw: bytes, file: str = "shipline.yaml", environ: Mapping[str, str] | None = None
) -> ModelConfig:
    """Validate the bytes of a shipline.yaml, or raise ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    text = _decode(raw, file)
    node = _compose(text, file)
    duplicates = _duplicate_keys(node)
    if duplicates:
        raise ConfigError(file, duplicates)
    lines: dict[Loc, int] = {}
    if not _index_lines(node, (), lines, [0]):
        raise ConfigError(
            file, [Problem("", f"expands to more than {MAX_EXPANDED_NODES} values (alias bomb?)")]
        )
    data = yaml.SafeLoader(text).construct_document(node)
    if not isinstance(data, dict):
        found = type(data).__name__
        raise ConfigError(
            file, [Problem("", f"expected a mapping of keys at the top, found {found}")]
        )
    problems: list[Problem] = []
    data = _interpolate(data, (), env, problems, lines)
    if problems:
        raise ConfigError(file, problems)
    problems = _cross_field_problems(data, lines)
    try:
        config = ModelConfig.model_validate(data)
    except ValidationError as error:
        problems += [_problem(e, lines) for e in error.errors(include_url=False)]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(file, problems)
    return config


def _decode(raw: bytes, file: str) -> str:
    if not raw.strip():
        raise ConfigError(
            file,
            [
                Problem(
                    "",
                    "file is empty; expected a mapping with at least 'name', 'data' and 'training'",
                )
            ],
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(
            file, [Problem("", f"is not valid UTF-8 (byte {error.start})", line)]
        ) from None
    for number, line_text in enumerate(text.splitlines(), start=1):
        indent = line_text[: len(line_text) - len(line_text.lstrip(" \t"))]
        if "\t" in indent:
            raise ConfigError(
                file,
                [Problem("", "a tab is used for indentation; YAML allows spaces only", number)],
            )
    return text


def _compose(text: str, file: str) -> yaml.Node:
    _check_nesting(text, file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        what = error.problem or str(error)
        if "could not determine a constructor" in str(error) or "!!python" in text:
            what = "tags such as !!python/object are not allowed; write plain values"
        raise ConfigError(file, [Problem("", f"invalid YAML: {what}", line)]) from None
    except yaml.YAMLError as error:
        raise ConfigError(file, [Problem("", f"invalid YAML: {error}")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError(file, [Problem("", "file holds no document; expected a mapping")])
    unsafe = _first_tagged(node)
    if unsafe is not None:
        raise ConfigError(
            file,
            [
                Problem(
                    "",
                    f"tag {unsafe.tag} is not allowed; write plain values",
                    unsafe.start_mark.line + 1,
                )
            ],
        )
    return node


_OPENING = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_nesting(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_NESTING before the (recursive) composer sees it.

    The scanner is iterative, so counting its tokens cannot exhaust the stack the way
    composing ``[[[[…]]]]`` does.
    """
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, _OPENING):
                depth += 1
                if depth > MAX_NESTING:
                    line = token.start_mark.line + 1
                    raise ConfigError(
                        file,
                        [Problem("", f"nested deeper than {MAX_NESTING} levels", line)],
                    )
            elif isinstance(token, _CLOSING):
                depth -= 1
    except yaml.YAMLError:
        return  # the composer reports the syntax error with its line


def _duplicate_keys(node: yaml.Node) -> list[Problem]:
    """Every key given twice in one mapping, with both lines: YAML would keep the last."""
    problems: list[Problem] = []
    stack, seen = [(node, "")], set()
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                where = f"{path}.{key}" if path else key
                if key in first and key != "<<":
                    problems.append(
                        Problem(
                            where,
                            f"key given twice (lines {first[key]} and {line}); "
                            "YAML would silently keep the last one: remove one",
                            line,
                        )
                    )
                first.setdefault(key, line)
                stack.append((value_node, where))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(current.value))
    return sorted(problems, key=lambda p: p.line or 0)


_PLAIN_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
}


def _first_tagged(node: yaml.Node) -> yaml.Node | None:
    """The first node whose tag the safe loader would not construct as plain data."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.tag not in _PLAIN_TAGS:
            return current
        if isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], count: list[int]) -> bool:
    """Map each key path to its line; False when aliases would expand past the cap."""
    count[0] += 1
    if count[0] > MAX_EXPANDED_NODES:
        return False
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            if not _index_lines(value_node, (*loc, key), lines, count):
                return False
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if not _index_lines(item, (*loc, index), lines, count):
                return False
    return True


def _interpolate(
    value: Any, loc: Loc, env: Mapping[str, str], problems: list[Problem], lines: dict[Loc, int]
) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(
                Problem(
                    _render_loc(loc),
                    f"environment variable {name!r} is not set "
                    f"(write ${{{name}:-default}} to give a default)",
                    lines.get(loc),
                )
            )
            return ""

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, str(k)), env, problems, lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, problems, lines) for i, v in enumerate(value)]
    return value


def _render_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(error: Any, lines: dict[Loc, int]) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    line = _line_for(loc, lines)
    if kind == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        known = _fields_at(ModelConfig, parent)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(known)}"
        return Problem(_render_loc(loc), f"unknown key {key!r}; {hint}", line)
    if kind == "missing":
        return Problem(_render_loc(loc), "required key is missing", _line_for(loc[:-1], lines))
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Input should be ")
    if error["type"] == "value_error":
        return Problem(_render_loc(loc), message, line)
    found = _show(error.get("input"))
    hint = ""
    expected = (error.get("ctx") or {}).get("expected")
    if kind == "literal_error" and isinstance(error.get("input"), str) and expected:
        options = re.findall(r"'([^']*)'", str(expected))
        close = difflib.get_close_matches(error["input"], options, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(_render_loc(loc), f"expected {message}, found {found}{hint}", line)


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys allowed at ``loc`` inside ``model`` (for "did you mean" hints)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Optional[...] and Annotated[...] down to the type that holds fields."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation


def _cross_field_problems(data: dict[str, Any], lines: dict[Loc, int]) -> list[Problem]:
    """Rules that span sections: metric names must exist for the task, bias needs classes.

    Works on the raw mapping so these problems are reported together with schema problems.
    """
    training = data.get("training")
    task = training.get("task") if isinstance(training, dict) else None
    if task not in ("classification", "regression"):
        return []
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    problems: list[Problem] = []
    for loc, metric in metric_references(data):
        if isinstance(metric, str) and metric not in known:
            close = difflib.get_close_matches(metric, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    _render_loc(loc),
                    f"expected a {task} metric ({', '.join(known)}), found {metric!r}{hint}",
                    _line_for(loc, lines),
                )
            )
    evaluation = data.get("evaluation")
    if isinstance(evaluation, dict) and evaluation.get("bias") and task != "classification":
        bias_loc: Loc = ("evaluation", "bias")
        problems.append(
            Problem(
                "evaluation.bias",
                "bias metrics need a classification task",
                _line_for(bias_loc, lines),
            )
        )
    return problems
