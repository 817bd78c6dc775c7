"""`relay shop design` and `relay shop template` (the actions are relay.actions.design and
relay.actions.templates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

from relay.actions import design as design_actions
from relay.actions import templates as template_actions
from relay.actions.errors import ActionError
from relay.cli.common import State, emit, json_option, pass_state
from relay.model import Shop
from relay.render import RenderError
from relay.store.shops import get_shop

DESIGN_OPTIONS = {
    "header_image": "--header-image",
    "primary": "--color-primary",
    "text": "--color-text",
    "background": "--color-background",
    "font": "--font",
    "footer": "--footer",
    "language": "--language",
}


def existing_shop(state: State, name: str) -> Shop:
    shop = get_shop(state.conn, name)
    if shop is None:
        raise click.ClickException(f"no shop {name!r}; `relay shop list` shows the shops")
    return shop


def refused(error: ActionError | RenderError, options: dict[str, str]) -> NoReturn:
    """Exit 1 with the refusal, naming the option (or the template, line and variable)."""
    field = error.field if isinstance(error, ActionError) else error.variable
    option = options.get(field or "")
    raise click.ClickException(f"{option}: {error}" if option else str(error))


@click.command("design")
@click.argument("name")
@click.option(
    "--header-image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PNG or JPEG, at most 200 KB, sent inline with rendered mail.",
)
@click.option("--no-header-image", is_flag=True, help="Remove the header image.")
@click.option("--color-primary", help="Buttons, links, headings: #RRGGBB.")
@click.option("--color-text", help="Body text: #RRGGBB.")
@click.option("--color-background", help="The card the text sits on: #RRGGBB.")
@click.option("--font", help="Font stack, e.g. 'Open Sans, Arial'; web-safe fallbacks are added.")
@click.option("--footer", help="Imprint: company, address, contact (newlines kept).")
@click.option("--language", type=click.Choice(["de", "en"]), help="Default language of mail.")
@json_option
@pass_state
def design(state: State, name: str, as_json: bool, **options: Any) -> None:
    """Show or change the shop's design; a change is checked as a whole (image type and
    size, readable colours, WCAG AA contrast)."""
    shop = existing_shop(state, name)
    changes = _changes(options)
    try:
        change = design_actions.plan_design(state.conn, shop, changes)
        with state.transaction() as tx:
            design_actions.save(tx, shop.name, change)
    except ActionError as error:
        refused(error, DESIGN_OPTIONS)
    if changes and not as_json:
        click.echo(
            f"shop {name}: design "
            + (f"changed: {', '.join(change.changed)}" if change.changed else "unchanged")
        )
    emit(design_actions.describe(change.design), as_json, _render_design, multiline=("footer",))


def _changes(options: dict[str, Any]) -> dict[str, Any]:
    if options["header_image"] is not None and options["no_header_image"]:
        raise click.UsageError("--header-image and --no-header-image exclude each other")
    changes: dict[str, Any] = {}
    if options["header_image"] is not None:
        changes["header_image"] = options["header_image"].read_bytes()
    if options["no_header_image"]:
        changes["header_image"] = None
    for option, field in (
        ("color_primary", "primary"),
        ("color_text", "text"),
        ("color_background", "background"),
        ("font", "font"),
        ("footer", "footer"),
        ("language", "language"),
    ):
        if options[option] is not None:
            changes[field] = options[option]
    return changes


def _render_design(data: dict[str, Any]) -> None:
    header = data["header_image"]
    click.echo(
        "  header image: "
        + (
            f"{header['type']} {header['width']}x{header['height']} px, {header['bytes']} bytes"
            if header
            else "none (the shop's name is the heading)"
        )
    )
    click.echo(
        f"  colours: primary {data['primary']} (contrast {data['contrast']['primary']}:1),"
        f" text {data['text']} (contrast {data['contrast']['text']}:1),"
        f" background {data['background']}"
    )
    click.echo(f"  font: {data['font']}")
    click.echo(f"  language: {data['language']}")
    footer = data["footer"].splitlines() or ["(none)"]
    click.echo("  footer: " + "\n          ".join(footer))


@click.command("template")
@click.argument("name")
@click.argument("kind")
@click.option("--language", type=click.Choice(["de", "en"]), help="Default: the design's language.")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Store this template file (=== subject/html/text === parts).",
)
@click.option("--reset", is_flag=True, help="Back to the shipped default template.")
@click.option("--show", is_flag=True, help="Print the template file in use (to edit a copy).")
@pass_state
def template(
    state: State,
    name: str,
    kind: str,
    language: str | None,
    from_file: Path | None,
    reset: bool,
    show: bool,
) -> None:
    """The shop's own template for a kind and language; checked before it is stored (a
    refusal names the template, line and variable)."""
    if sum((from_file is not None, reset, show)) > 1:
        raise click.UsageError("use one of --from-file, --reset and --show")
    shop = existing_shop(state, name)
    options = {"language": "--language", "kind": "KIND"}
    try:
        chosen = template_actions.language_for(state.conn, shop, language)
        if from_file is not None:
            _store(state, shop, kind, chosen, from_file)
        elif reset:
            with state.transaction() as tx:
                done = template_actions.reset(tx, shop, kind, chosen)
            click.echo(
                f"{kind}/{chosen}: "
                + ("back to the default template" if done else "had no template of its own")
            )
        else:
            found = template_actions.effective(state.conn, shop, kind, chosen)
            if show:
                click.echo(found.template.to_file_text(), nl=False)
            else:
                whose = "the shop's own template" if found.own else "the default template"
                click.echo(f"{kind}/{chosen}: {whose} ({found.template.reference})")
    except (ActionError, RenderError) as error:
        refused(error, options)


def _store(state: State, shop: Shop, kind: str, language: str, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path} is not UTF-8 text: {error}") from None
    checked = template_actions.plan_template(state.conn, shop, kind, language, text)
    with state.transaction() as tx:
        template_actions.save(tx, shop, checked)
    click.echo(f"{kind}/{language}: the shop's own template stored ({checked.reference})")


COMMANDS = [design, template]
