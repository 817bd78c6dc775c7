"""HTTP side of the relay: RFC 8058 one-click unsubscribe, the opt-out page, `/healthz`."""

from relay.http.app import make_app, start_http

__all__ = ["make_app", "start_http"]
