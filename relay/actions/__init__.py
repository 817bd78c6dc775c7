"""What a shop or an admin can do, one implementation each, for the CLI, the API and the shop
console. An action checks its input against the store (`Conn`) and writes in the caller's
transaction (`Tx`: `db.transaction()` in the CLI, the group-commit writer in `relay serve`), or
through an async `Write` (`relay.actions.errors.transaction_write` in the CLI); a refusal is an
`ActionError` naming the field, which the CLI turns into an error message and the API into an
RFC 9457 problem."""
