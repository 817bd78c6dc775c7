"""Actions: each thing a user can do, implemented once, for the CLI, the API and the console.

An action takes the store's handles (a `Conn` to read, an async `Write` to change) and raises
`relay.actions.errors.ActionError` for a refusal; the CLI turns that into an error message
(exit 1), the API into an RFC 9457 problem.
"""
