"""Tag-value lists, the record syntax shared by DKIM keys (RFC 6376 §3.2) and
DMARC policies (RFC 7489 §6.4): `tag=value; tag=value`, whitespace allowed
around tags, values and semicolons, a trailing semicolon allowed.
"""

from __future__ import annotations

import re

# RFC 6376 §3.2: tag-name = ALPHA *ALNUMPUNC (ALNUMPUNC = ALPHA / DIGIT / "_").
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class TagListError(ValueError):
    """The text is not a valid tag-list; the message says why, in words."""


def parse_tag_list(text: str) -> list[tuple[str, str]]:
    """'v=DKIM1; k=rsa; p=MIIB...' -> [('v', 'DKIM1'), ('k', 'rsa'), ('p', 'MIIB...')].

    Order is kept (DKIM and DMARC both require v= first). Tag names are
    case-sensitive (RFC 6376 §3.2), so they are returned as written. Values keep
    their inner whitespace; the caller strips what its grammar allows.
    Raises TagListError for a part without '=', a bad tag name, or a tag given
    twice ("the entire tag-list is invalid", RFC 6376 §3.2).
    """
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    # The grammar allows one trailing ';'. Empty parts elsewhere (";;") are outside
    # it too, but carry no meaning and are common, so they are skipped alike.
    for part in (p for p in text.split(";") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise TagListError(f"'{part.strip()}' is not of the form tag=value")
        if not _TAG_NAME.fullmatch(name):
            raise TagListError(f"'{name}' is not a valid tag name")
        if name in seen:
            raise TagListError(f"the tag {name}= appears twice")
        seen.add(name)
        pairs.append((name, value.strip()))
    return pairs
