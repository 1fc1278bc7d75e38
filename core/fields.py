"""Request fields with the bounds every API input needs (and that the OpenAPI schema then states, so clients and
schemathesis know them): ids and seeds that fit their database columns, objects with a bounded number of keys.

Integers past 2^63 overflow PostgreSQL's bigint (and 2^31 its integer): unbounded, they reach the database and fail
there with a 500. Every integer a request carries has a maximum here or at its own field."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_ID = 2**63 - 1  # bigint primary keys
MAX_INT32 = 2**31 - 1  # PositiveIntegerField columns (seeds, budgets)
MAX_KEYS = 50


def IdField(**kwargs):
    """A database id: 1 … 2^63-1."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def SeedField(**kwargs):
    """A seed or a count stored in a 32-bit column: 0 … 2^31-1."""
    return serializers.IntegerField(min_value=kwargs.pop("min_value", 0), max_value=MAX_INT32, **kwargs)


def require_whole_number(value, *, field: str, error: type[Exception], low: int = 0, high: int = MAX_INT32) -> None:
    """The service-side twin of SeedField/IdField (for callers that bypass the API: CLI, admin, other services):
    `error` naming `field` unless `value` is an int (not a bool) within low … high."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise error(f"{field}: a whole number from {low} to {high}")


@extend_schema_field({"type": "object", "maxProperties": MAX_KEYS, "additionalProperties": True})
class BoundedDictField(serializers.DictField):
    """A JSON object of at most `max_keys` keys (services check the keys and values themselves)."""

    def __init__(self, *, max_keys: int = MAX_KEYS, **kwargs):
        self.max_keys = max_keys
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict) and len(data) > self.max_keys:
            raise serializers.ValidationError(f"at most {self.max_keys} keys, got {len(data)}")
        return super().to_internal_value(data)
