"""The API's JSON parser (settings: REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config import safejson


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with the guards of config.safejson: a body nested too deeply, or holding a lone surrogate
    or a NUL character, is a 400 naming where — never a RecursionError or a database encoding error (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {safejson.MAX_DEPTH} levels deep") from None
        try:
            safejson.check(value)
        except safejson.UnsafeJSON as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return value
