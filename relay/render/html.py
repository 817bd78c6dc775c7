"""MJML to e-mail HTML (mrml, the Rust port of MJML), then CSS inlined (css-inline).

Nothing here reaches the network or the disk: mrml's include loader is the no-op one (an
`<mj-include>` fails instead of reading a file or a URL), css-inline never loads remote
stylesheets, and mrml's default web fonts (a Google Fonts link) are switched off: the layout
names the shop's font stack itself.
"""

from __future__ import annotations

import css_inline
import lxml.html
import mrml

from relay.render.errors import RenderError

MAX_SHOP_HTML = 1024 * 1024  # characters of a shop's own HTML body (X-Relay-Layout: shop)

_PARSER = mrml.ParserOptions(include_loader=mrml.noop_loader())
_RENDER = mrml.RenderOptions(disable_comments=True, fonts={})
# keep_at_rules: the @media rules that make MJML's columns stack on phones cannot be inlined
# and must stay in a <style> element.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_FRAGMENT_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


def mjml_to_html(source: str, template: str) -> str:
    try:
        html = mrml.to_html(source, parser_options=_PARSER, render_options=_RENDER).content
    except Exception as error:  # mrml raises plain exceptions with the parser's message
        raise RenderError(f"MJML does not compile: {error}", template=template) from None
    try:
        return _INLINER.inline(html)
    except css_inline.InlineError as error:
        raise RenderError(f"CSS could not be inlined: {error}", template=template) from None


def shop_body(document: str) -> str:
    """The inside of a shop's HTML body, with the styles of its <style> elements inlined (the
    layout is the document now; the shop's head is dropped)."""
    if not isinstance(document, str) or not document.strip():
        raise RenderError("the shop's HTML body is empty", template="shop-layout")
    if len(document) > MAX_SHOP_HTML:
        raise RenderError(
            f"the shop's HTML has more than {MAX_SHOP_HTML} characters", template="shop-layout"
        )
    try:
        tree = lxml.html.document_fromstring(document)
    except (ValueError, lxml.etree.ParserError) as error:
        raise RenderError(
            f"the shop's HTML is unreadable: {error}", template="shop-layout"
        ) from None
    css = "\n".join(style.text_content() for style in tree.iter("style"))
    for element in tree.xpath("//style|//script|//link|//meta|//title"):
        element.drop_tree()
    body = tree.find("body")
    inner = (
        (body.text or "") + "".join(lxml.html.tostring(child, encoding="unicode") for child in body)
        if body is not None
        else ""
    )
    try:
        return _FRAGMENT_INLINER.inline_fragment(inner, css) if css.strip() else inner
    except css_inline.InlineError as error:
        raise RenderError(
            f"the shop's CSS could not be inlined: {error}", template="shop-layout"
        ) from None
