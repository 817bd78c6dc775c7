"""What a shop or an admin can do, one implementation each: the CLI calls these now, the API and
the shop console later. An action checks its input against the store (`Conn`), returns what it
will write, and writes it in the caller's transaction (`Tx`: `db.transaction()` in the CLI, the
group-commit writer in `relay serve`); a refusal is an `ActionError` naming the field."""
