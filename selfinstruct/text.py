"""Text helpers shared by seeds and generation: normalization, keys, language detection."""

import hashlib
import re

_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)
_URL = re.compile(r"https?://\S+|www\.\S+")
_COLON = re.compile(r"[:：]")
_SPACE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def prompt_text(instruction: str, input_text: str) -> str:
    """An instruction and its input as one prompt, the way completions are requested and exported."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def conversation_text(system: str, history: list, instruction: str, input_text: str) -> str:
    """A multi-turn example's prompt as raw text: the system text, then each earlier turn's user and assistant text,
    then this turn's prompt, separated by blank lines; the model server joins a chat request's messages the same way
    for a model trained without a chat template. With no system text and no history it is `prompt_text`."""
    parts = [system] if system else []
    for user, assistant in history:
        parts += [user, assistant]
    return "\n\n".join([*parts, prompt_text(instruction, input_text)])


def conversation_messages(system: str, history: list, instruction: str, input_text: str, output: str) -> list[dict]:
    """The same example as chat messages: system (when there is one), the earlier turns, this prompt and answer."""
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in history:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [
        *messages,
        {"role": "user", "content": prompt_text(instruction, input_text)},
        {"role": "assistant", "content": output},
    ]


def instruction_key(text: str) -> str:
    """Exact-duplicate key: whitespace-normalized, case-folded."""
    return hashlib.sha256(normalize_whitespace(text).casefold().encode("utf-8")).hexdigest()


def _script_units(text: str) -> tuple[int, int]:
    """(CJK characters, runs of Latin letters) in `text`: an identifier such as `JavaScript` is one unit, as a
    Chinese character is, so a Chinese sentence naming code is still counted as Chinese."""
    return len(_IDEOGRAPH.findall(text)), len(_LATIN_WORD.findall(text))


def detect_language(text: str) -> str:
    """'zh' when the instruction's own words are mostly Chinese, else 'en'.

    Code blocks, inline code and URLs are dropped; then the first line with letters decides (later lines are
    usually the input or code), and within it the part before a colon when that part holds two or more units
    ("翻译下面这个句子：I will …" is Chinese, "Translate to Chinese: 今天…" English). CJK characters count against
    Latin *words*, ties going to Chinese."""
    text = _URL.sub(" ", _CODE.sub(" ", text))
    cjk = latin = 0
    for line in text.splitlines():
        cjk, latin = _script_units(line)
        if cjk or latin:
            head = _COLON.split(line, maxsplit=1)[0]
            head_cjk, head_latin = _script_units(head)
            if head != line and head_cjk + head_latin >= 2:
                cjk, latin = head_cjk, head_latin
            break
    return "zh" if cjk and cjk >= latin else "en"
