"""`relay preview`: what the customer will see, as an HTML file or a PNG from headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from relay.actions.errors import ActionError
from relay.cli.common import State, pass_state
from relay.cli.shop_design import existing_shop, refused


@click.command()
@click.option("--shop", "shop_name", required=True, help="The shop whose design and templates.")
@click.option("--kind", required=True, help="The notification kind, e.g. payment-reminder.")
@click.option("--language", type=click.Choice(["de", "en"]), help="Default: the design's language.")
@click.option(
    "--data",
    "data_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON data (as the API's `data`); default: the kind's sample data.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.html, or FILE.png (drawn by headless Chromium).",
)
@click.option(
    "--width",
    type=click.Choice(["600", "375"]),
    default="600",
    show_default=True,
    help="PNG width in pixels: desktop (600) or phone (375).",
)
@pass_state
def preview(
    state: State,
    shop_name: str,
    kind: str,
    language: str | None,
    data_file: Path | None,
    out: Path,
    width: str,
) -> None:
    """Render a kind in the shop's design and write it as .html or .png."""
    from relay.actions.preview import render_preview
    from relay.preview import PreviewError, write_preview
    from relay.render import RenderError

    if out.suffix.lower() not in (".html", ".htm", ".png"):
        raise click.BadParameter("write the preview as FILE.html or FILE.png", param_hint="--out")
    shop = existing_shop(state, shop_name)
    options = {"language": "--language", "kind": "--kind"}
    try:
        data = _data(data_file) if data_file else None
        shown = render_preview(state.conn, shop, kind, language, data=data)
        write_preview(shown.parts, out, width=int(width))
    except (ActionError, RenderError) as error:
        refused(error, options)
    except PreviewError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{out}: {kind}/{shown.language} of shop {shop.name} ({shown.reference})")


def _data(path: Path) -> Any:
    """The data object; an SMTP body ({"data": ..., "language": ...}) is read as its data."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from None
    if isinstance(data, dict) and "data" in data and set(data) <= {"data", "language"}:
        return data["data"]
    return data


COMMANDS = [preview]
