"""The opt-out pages: short, self-contained HTML (inline CSS, no external resources).

Everything that comes from the database or the token is HTML-escaped here; the texts from
`relay.http.i18n` are trusted fragments. The pages work without JavaScript, which the
Content-Security-Policy forbids anyway.
"""

from dataclasses import dataclass
from html import escape

from relay.http.i18n import NOT_FOUND_PARAGRAPHS, NOT_FOUND_TITLE, Texts

CONFIRM_FIELD = "confirm"  # hidden field of the confirm button (not an RFC 8058 one-click)
CONFIRM_VALUE = "yes"

_STYLE = """
*{box-sizing:border-box}
body{margin:0;padding:1rem;background:#f4f5f7;color:#1d2430;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
.shop{margin:0 0 .25rem;color:#5b6472;font-size:.95rem}
h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}
p{margin:0 0 1rem}
.address{color:#5b6472;overflow-wrap:anywhere}
.note{margin:1.25rem 0 0;color:#5b6472;font-size:.875rem}
button{display:block;width:100%;padding:.8rem 1rem;border:0;border-radius:.375rem;
background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:hover,button:focus{background:#1e40af}
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


@dataclass(frozen=True)
class OptOutView:
    """What a page says about one opt-out: all plain text, escaped when rendered."""

    texts: Texts
    shop_name: str
    label: str
    address: str


def mask_address(address: str) -> str:
    """`max@example.org` -> `m***@example.org`: enough to recognise, not to harvest."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1] if len(local) > 1 else ''}***@{domain}"


def confirm_page(view: OptOutView) -> str:
    # GET shows this and changes nothing: scanners prefetch links (RFC 8058 §1).
    t = view.texts
    form = (
        '<form method="post">'
        f'<input type="hidden" name="{CONFIRM_FIELD}" value="{CONFIRM_VALUE}">'
        f'<button type="submit">{escape(t.button)}</button>'
        "</form>"
    )
    body = [
        f"<p>{escape(t.confirm_lead)}</p>",
        f"<p>{_fill(t.will_stop, view)}</p>",
        _address_line(view),
        form,
        _note(t),
    ]
    return _render(view, t.confirm_title, body)


def done_page(view: OptOutView) -> str:
    t = view.texts
    body = [f"<p>{_fill(t.done_text, view)}</p>", _address_line(view), _note(t)]
    return _render(view, t.done_title, body)


def already_page(view: OptOutView) -> str:
    t = view.texts
    body = [f"<p>{_fill(t.already_text, view)}</p>", _address_line(view), _note(t)]
    return _render(view, t.already_title, body)


def not_found_page() -> str:
    """The one page for every failure: it names no shop, address or reason."""
    body = [f"<h1>{escape(NOT_FOUND_TITLE)}</h1>"]
    body += [f'<p lang="{lang}">{escape(text)}</p>' for lang, text in NOT_FOUND_PARAGRAPHS]
    return _PAGE.format(
        lang="de", title=escape(NOT_FOUND_TITLE), style=_STYLE, body="\n".join(body)
    )


def _render(view: OptOutView, title: str, body: list[str]) -> str:
    head = [f'<p class="shop">{escape(view.shop_name)}</p>', f"<h1>{escape(title)}</h1>"]
    return _PAGE.format(
        lang=view.texts.lang,
        title=f"{escape(title)} – {escape(view.shop_name)}",
        style=_STYLE,
        body="\n".join(head + body),
    )


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
