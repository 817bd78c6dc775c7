"""AUTH PLAIN (RFC 4616) and LOGIN for the submission handler, on aiosmtpd's public API.

aiosmtpd lets a handler provide `auth_<MECHANISM>(server, args)` in place of its built-in
mechanisms, with `server.challenge_auth()` for the exchange. Ours decode the credentials the
way aiosmtpd's do and then await the shop check (scrypt in a thread, relay.smtp.auth), which
aiosmtpd's `authenticator` cannot do: it is called synchronously, inside the event loop.
"""

import binascii
from base64 import b64decode
from typing import Protocol

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword


class Checker(Protocol):
    async def authenticate(
        self, peer: object, credentials: LoginPassword, mechanism: str
    ) -> AuthResult: ...


class ShopMechanisms:
    """Mix into a handler that has `authenticator` (relay.smtp.auth.ShopAuthenticator)."""

    authenticator: Checker

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")  # RFC 4954 4: an empty initial challenge
            if blob is MISSING:
                return AuthResult(success=False)  # "*" or bad base64: answered already
        else:
            blob = await _decoded(server, args[1])
            if blob is None:
                return AuthResult(success=False)
        assert isinstance(blob, bytes)
        parts = blob.split(b"\0")
        if len(parts) != 3:  # authzid NUL authcid NUL passwd (RFC 4616 2)
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False)
        return await self._check(server, LoginPassword(parts[1], parts[2]), "PLAIN")

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(server.AuthLoginUsernameChallenge)
        else:
            login = await _decoded(server, args[1])
        if login is MISSING or login is None:
            return AuthResult(success=False)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False)
        assert isinstance(login, bytes) and isinstance(password, bytes)
        return await self._check(server, LoginPassword(login, password), "LOGIN")

    async def _check(self, server: SMTP, credentials: LoginPassword, mechanism: str) -> AuthResult:
        assert server.session is not None
        return await self.authenticator.authenticate(server.session.peer, credentials, mechanism)


async def _decoded(server: SMTP, text: str) -> bytes | None:
    try:
        return b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        await server.push("501 5.5.2 Can't decode base64")
        return None
