"""The shop submission handler: thin aiosmtpd hooks that validate, hand off, return a reply.

The message itself goes through `relay.submit.Submitter`, the path every way in shares.
"""

import logging

from relay.prepare.headers import Source
from relay.prepare.recipients import syntax_error
from relay.smtp import replies
from relay.smtp.auth import ShopAuthenticator
from relay.smtp.mechanisms import ShopMechanisms
from relay.smtp.protocol import HandlerBase
from relay.submit import Rejection, ShopGone, Submitter

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100  # RFC 5321 4.5.3.1.8: at least 100 must be accepted


class SubmissionHandler(HandlerBase, ShopMechanisms):
    def __init__(self, submitter: Submitter, authenticator: ShopAuthenticator) -> None:
        self.submitter = submitter
        self.authenticator = authenticator

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.TOO_MANY_RECIPIENTS
        why = syntax_error(address)
        if why is not None:  # issue 14: refused now, not accepted and failed later
            return replies.BAD_RECIPIENT.format(
                address=replies.escaped(address, 100), why=replies.escaped(why, 200)
            )
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RCPT_OK

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        client = f"{session.peer[0]}" if isinstance(session.peer, tuple) else ""
        try:
            prepared = await self.submitter.submit(
                session.auth_data,
                envelope.mail_from or "",
                envelope.rcpt_tos,
                _take_content(envelope),
                client,
            )
        except Rejection as rejection:
            return rejection.reply
        except ShopGone:  # deleted while the session was open
            return replies.AUTH_REQUIRED
        return replies.QUEUED.format(id=prepared.id)

    async def handle_exception(self, error: Exception) -> str:
        log.error("submission failed", exc_info=error)
        return replies.INTERNAL_ERROR


def _take_content(envelope) -> bytes | Source:  # type: ignore[no-untyped-def]
    """The DATA (bytes, or the spool of relay.smtp.data), leaving no other reference to it: the
    submitter drops its own as soon as the prepared copy exists (a large message must not be
    held twice)."""
    content, envelope.content, envelope.original_content = envelope.content, None, None
    return content
