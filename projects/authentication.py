"""API token authentication against hashed tokens (projects.tokens), saying how to send a token when it is sent
the wrong way.

DRF's TokenAuthentication ignores an Authorization header without the `Token ` keyword, so a bare key or a
`Bearer <key>` gets "Authentication credentials were not provided." — which reads as if nothing was sent."""

from __future__ import annotations

import re

from rest_framework import authentication, exceptions

from projects.tokens import token_for_key

_KEY = re.compile(rb"^[0-9a-fA-F]{40}$")
HOW = "send the token as 'Authorization: Token <key>' (the word Token, a space, then the key)"


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if len(parts) == 1 and _KEY.match(parts[0]):
            raise exceptions.AuthenticationFailed(f"a bare token: {HOW}")
        if len(parts) == 2 and parts[0].lower() == b"bearer" and _KEY.match(parts[1]):
            raise exceptions.AuthenticationFailed(f"'Bearer' is not this API's keyword: {HOW}")
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        # The presented key is hashed and its digest looked up: no plaintext key to compare, nothing timing-leaky.
        token = token_for_key(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)
