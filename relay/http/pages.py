"""The opt-out pages, in the shop's design: short, self-contained HTML (inline CSS; the header
image inline as a `data:` URI, which the Content-Security-Policy allows and nothing else).

Everything that comes from the database or the token is HTML-escaped here; the texts from
`relay.http.i18n` are trusted fragments. The design's colours are `#rrggbb` and its font stack
is CSS identifiers only (relay.render.Design refuses anything else), so both go into the style
sheet as they are. The pages work without JavaScript, which the CSP forbids anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from relay.http.i18n import NOT_FOUND_PARAGRAPHS, NOT_FOUND_TITLE, Texts

CONFIRM_FIELD = "confirm"  # hidden field of the confirm button (not an RFC 8058 one-click)
CONFIRM_VALUE = "yes"
PAGE_BACKGROUND = "#f3f4f6"  # around the card, as in the rendered mail


@dataclass(frozen=True)
class PageDesign:
    """The shop's design as the pages use it (relay.render.Design, checked there)."""

    primary: str = "#1a56db"
    text: str = "#1f2937"
    background: str = "#ffffff"
    font: str = "Arial, Helvetica, sans-serif"
    header_src: str | None = None  # data:image/png;base64,...
    footer_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptOutView:
    """What a page says about one opt-out: all plain text, escaped when rendered."""

    texts: Texts
    shop_name: str
    label: str
    address: str
    design: PageDesign = PageDesign()


@dataclass(frozen=True)
class Offer:
    """A form on the page: where it posts (relative to the page) and until when it works."""

    action: str
    until: str = ""


_STYLE = """
*{{box-sizing:border-box}}
body{{margin:0;padding:1rem;background:{page};color:{text};font:16px/1.5 {font}}}
main{{max-width:34rem;margin:2rem auto;background:{background};border-radius:.5rem;
overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.12)}}
.top{{border-bottom:4px solid {primary}}}
.top img{{display:block;width:100%;height:auto}}
.top p{{margin:0;padding:1.25rem 1.5rem;color:{primary};font-size:1.35rem;font-weight:700}}
.content{{padding:1.5rem}}
h1{{margin:0 0 1rem;color:{primary};font-size:1.5rem;line-height:1.25}}
p{{margin:0 0 1rem}}
.address{{overflow-wrap:anywhere}}
.note{{margin:1.25rem 0 0;font-size:.875rem}}
form{{margin:0 0 1rem}}
button{{display:block;width:100%;padding:.8rem 1rem;border:2px solid {primary};
border-radius:.375rem;background:{primary};color:{background};font:inherit;font-weight:600;
cursor:pointer}}
button.secondary{{background:{background};color:{primary}}}
footer{{margin:0 1.5rem;padding:1rem 0 1.5rem;border-top:1px solid {text};font-size:.8rem}}
"""

_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def mask_address(address: str) -> str:
    """`max@example.org` -> `m***@example.org`: enough to recognise, not to harvest."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1] if len(local) > 1 else ''}***@{domain}"


def confirm_page(view: OptOutView) -> str:
    # GET shows this and changes nothing: scanners prefetch links (RFC 8058 §1).
    t = view.texts
    body = [
        f"<p>{escape(t.confirm_lead)}</p>",
        f"<p>{_fill(t.will_stop, view)}</p>",
        _address_line(view),
        _form("", t.button, hidden=True),
        _note(t),
    ]
    return _render(view, t.confirm_title, body)


def done_page(view: OptOutView, undo: Offer | None = None) -> str:
    t = view.texts
    body = [f"<p>{_fill(t.done_text, view)}</p>", _address_line(view), _undo(view, undo), _note(t)]
    return _render(view, t.done_title, body)


def already_page(view: OptOutView, undo: Offer | None = None) -> str:
    t = view.texts
    body = [f"<p>{_fill(t.already_text, view)}</p>", _address_line(view), _undo(view, undo)]
    return _render(view, t.already_title, [*body, _note(t)])


def resubscribe_page(view: OptOutView, offer: Offer) -> str:
    """GET of a re-subscribe link: the button, nothing changed yet (scanners fetch links)."""
    t = view.texts
    body = [
        f"<p>{_fill(t.resubscribe_text, view)}</p>",
        _address_line(view),
        _form(offer.action, t.resubscribe_button),
    ]
    return _render(view, t.resubscribe_title, body)


def resubscribed_page(view: OptOutView) -> str:
    t = view.texts
    body = [f"<p>{_fill(t.resubscribed_text, view)}</p>", _address_line(view)]
    return _render(view, t.resubscribed_title, body)


def expired_page(view: OptOutView) -> str:
    t = view.texts
    return _render(view, t.expired_title, [f"<p>{_fill(t.expired_text, view)}</p>"])


def not_found_page() -> str:
    """The one page for every failure: it names no shop, address or reason."""
    body = ['<div class="content">', f"<h1>{escape(NOT_FOUND_TITLE)}</h1>"]
    body += [f'<p lang="{lang}">{escape(text)}</p>' for lang, text in NOT_FOUND_PARAGRAPHS]
    return _PAGE.format(
        lang="de",
        title=escape(NOT_FOUND_TITLE),
        style=_style(PageDesign()),
        body="\n".join([*body, "</div>"]),
    )


def _render(view: OptOutView, title: str, body: list[str]) -> str:
    design = view.design
    if design.header_src:
        top = f'<img src="{escape(design.header_src)}" alt="{escape(view.shop_name)}">'
    else:
        top = f"<p>{escape(view.shop_name)}</p>"
    parts = [f'<div class="top">{top}</div>', '<div class="content">', f"<h1>{escape(title)}</h1>"]
    parts += [*(b for b in body if b), "</div>"]
    if design.footer_lines:
        parts.append(
            f"<footer>{'<br>'.join(escape(line) for line in design.footer_lines)}</footer>"
        )
    return _PAGE.format(
        lang=view.texts.lang,
        title=f"{escape(title)} – {escape(view.shop_name)}",
        style=_style(design),
        body="\n".join(parts),
    )


def _style(design: PageDesign) -> str:
    return _STYLE.format(
        page=PAGE_BACKGROUND,
        primary=design.primary,
        text=design.text,
        background=design.background,
        font=design.font,
    )


def _form(action: str, label: str, hidden: bool = False, secondary: bool = False) -> str:
    field = f'<input type="hidden" name="{CONFIRM_FIELD}" value="{CONFIRM_VALUE}">'
    target = f' action="{escape(action)}"' if action else ""
    css = ' class="secondary"' if secondary else ""
    button = f'<button type="submit"{css}>{escape(label)}'
    return f'<form method="post"{target}>{field if hidden else ""}{button}</button></form>'


def _undo(view: OptOutView, undo: Offer | None) -> str:
    if undo is None:
        return ""
    lead = view.texts.undo_lead.format(date=escape(undo.until))
    return f"<p>{lead}</p>" + _form(undo.action, view.texts.undo_button, secondary=True)


def _fill(fragment: str, view: OptOutView) -> str:
    # str.format does not re-read the substituted values, so escaped braces stay literal.
    return fragment.format(
        shop=f"<strong>{escape(view.shop_name)}</strong>",
        label=f"<strong>{escape(view.label)}</strong>",
        address=escape(mask_address(view.address)),
    )


def _address_line(view: OptOutView) -> str:
    label, masked = escape(view.texts.address_label), escape(mask_address(view.address))
    return f'<p class="address">{label}: {masked}</p>'


def _note(t: Texts) -> str:
    return f'<p class="note">{escape(t.still_get)}</p>'
