"""Reading completion files and prompt lists (JSONL or a JSON list); every error names the file, line and field.

A completion file holds one model's responses keyed by prompt, one object per line:
  {"instruction": …, "input": …, "response": …}   (the Self-Instruct prediction files), or
  {"prompt": …, "completion": …}; "output" is accepted for the response, "model" overrides the file's model name.
A prompt list holds {"instruction": …, "input": …} or {"prompt": …} objects (or plain strings in a JSON list).
Files are read a row at a time (core.jsonfiles): the `iter_*` readers yield checked rows without holding the file,
so an importer checks a whole file in one pass and writes it in a second, holding only a few rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core import jsonfiles

MAX_FILE_BYTES = 200 * 1024 * 1024
RESPONSE_FIELDS = ("response", "completion", "output")


class AnnotationFileError(ValueError):
    pass


@dataclass(frozen=True)
class PromptRow:
    instruction: str
    input: str
    category: str
    where: str


@dataclass(frozen=True)
class CompletionRow:
    prompt: PromptRow
    text: str
    model: str


def _objects(path: Path) -> Iterator[tuple[int, object]]:
    """(line, value) pairs of a JSON list (the line each item starts on) or of JSON lines, read as they are
    needed; a file without rows is an error once it has been read to its end."""
    empty = True
    try:
        for item in jsonfiles.records(path, limit=MAX_FILE_BYTES):
            empty = False
            yield item
    except jsonfiles.JsonFileError as exc:
        where = f"{path.name}:{exc.line}" if exc.line else path.name
        raise AnnotationFileError(f"{where}: {exc.message}") from None
    if empty:
        raise AnnotationFileError(f"{path.name}: no rows")


def _text(obj: dict, field: str, where: str, *, required: bool) -> str:
    value = obj.get(field)
    if value is None:
        if required:
            raise AnnotationFileError(f"{where}: field '{field}' is missing")
        return ""
    if not isinstance(value, str):
        raise AnnotationFileError(f"{where}: field '{field}' must be a string, not {type(value).__name__}")
    return value


def _prompt(obj, where: str) -> PromptRow:
    if isinstance(obj, str):
        obj = {"prompt": obj}
    if not isinstance(obj, dict):
        raise AnnotationFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "instruction" in obj:
        instruction = _text(obj, "instruction", where, required=True).strip()
        input_text = _text(obj, "input", where, required=False).strip()
        field = "instruction"
    else:
        instruction = _text(obj, "prompt", where, required=True).strip()
        input_text, field = "", "prompt"
    if not instruction:
        raise AnnotationFileError(f"{where}: field '{field}' is empty")
    category = obj.get("category") or obj.get("motivation_app") or ""
    return PromptRow(instruction=instruction, input=input_text, category=str(category)[:100], where=where)


def iter_prompt_list(path: Path) -> Iterator[PromptRow]:
    for line, obj in _objects(path):
        yield _prompt(obj, f"{path.name}:{line}")


def read_prompt_list(path: Path) -> list[PromptRow]:
    return list(iter_prompt_list(path))


def model_name_for(path: Path) -> str:
    name = path.stem
    for suffix in ("_predictions", "-predictions", "_completions", "-completions"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_completion_file(path: Path) -> list[CompletionRow]:
    return list(iter_completion_file(path))


def iter_completion_file(path: Path) -> Iterator[CompletionRow]:
    """Checked rows one at a time; an AnnotationFileError at the first bad one."""
    default_model = model_name_for(path)
    for line, obj in _objects(path):
        where = f"{path.name}:{line}"
        if not isinstance(obj, dict):
            raise AnnotationFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        prompt = _prompt(obj, where)
        field = next((f for f in RESPONSE_FIELDS if f in obj), None)
        if field is None:
            raise AnnotationFileError(f"{where}: field 'response' is missing (or 'completion'/'output')")
        text = _text(obj, field, where, required=True).strip()  # an empty answer is an answer: it ranks last
        model = obj.get("model", default_model)
        if not isinstance(model, str) or not model.strip():
            raise AnnotationFileError(f"{where}: field 'model' must be a non-empty string")
        yield CompletionRow(prompt=prompt, text=text, model=model.strip()[:200])
