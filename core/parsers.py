"""The API's JSON parser (settings: REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core import safejson

MAX_JSON_BODY_BYTES = 32 * 2**20  # the largest legal body (5,000 evaluation prompts) is far below


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with the guards of core.safejson: a body nested too deeply, or holding a lone surrogate
    or a NUL character, is a 400 naming where — never a RecursionError or a database encoding error (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and str(length).isdigit() and int(length) > MAX_JSON_BODY_BYTES:
            raise ParseError(f"JSON parse error - the body is larger than {MAX_JSON_BODY_BYTES // 2**20} MB")
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {safejson.MAX_DEPTH} levels deep") from None
        try:
            safejson.check(value)
        except safejson.UnsafeJSON as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return value
