"""Paging for every list in the API: `?limit=&offset=` (DRF's LimitOffsetPagination), the body stays a plain
list (what clients have always read), and the page's neighbours and the total come in headers:
`Link: <…?limit=100&offset=100>; rel="next", <…>; rel="prev"` (RFC 8288, as GitHub's API does) and
`X-Total-Count`. Nothing is cut silently: a client follows `next` until there is none. Bad values are a 400
naming the parameter."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_LIMIT, required=False, help_text=f"Rows per page (default {DEFAULT_LIMIT})."
    )
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False, help_text="Rows to skip.")


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset paging (a `{count, next, previous, results}` body: the API's default for generic list
    views) with bounded values: a limit past MAX_LIMIT or an offset past 2^31 - 1 is a 400 naming it (a limit of 2^63
    reached the database and answered 500)."""

    max_limit = MAX_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        query = PageQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        return super().paginate_queryset(queryset, request, view)


class LinkHeaderPagination(BoundedLimitOffsetPagination):
    default_limit = DEFAULT_LIMIT

    def get_paginated_response(self, data):
        response = Response(data)
        links = [
            f'<{url}>; rel="{rel}"'
            for url, rel in ((self.get_next_link(), "next"), (self.get_previous_link(), "prev"))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        response["X-Total-Count"] = str(self.count)
        return response


def paginated(request, queryset, serializer_class, *, view=None, **context) -> Response:
    """One page of `queryset` serialized with `serializer_class`, with the Link and X-Total-Count headers."""
    paginator = LinkHeaderPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


PAGE_PARAMETERS = [PageQuerySerializer]
