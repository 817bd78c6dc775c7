"""Texts of the opt-out pages, in the shop's language (SPEC "Shops": `de` or `en`).

Each text is an HTML fragment with `{shop}`, `{label}` and `{address}` placeholders; the values
are escaped by `relay.http.pages` before they are put in, the fragments themselves are trusted.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Texts:
    lang: str
    confirm_title: str
    confirm_lead: str
    will_stop: str
    button: str
    done_title: str
    done_text: str
    already_title: str
    already_text: str
    still_get: str
    address_label: str


GERMAN = Texts(
    lang="de",
    confirm_title="Abmelden",
    confirm_lead="Bitte bestätigen Sie die Abmeldung.",
    will_stop="Sie erhalten dann keine {label} mehr von {shop}.",
    button="Abmelden",
    done_title="Abgemeldet",
    done_text="Sie wurden abgemeldet und erhalten keine {label} mehr von {shop}.",
    already_title="Bereits abgemeldet",
    already_text="Sie haben sich bereits abgemeldet und erhalten keine {label} mehr von {shop}.",
    still_get=(
        "Wichtige Nachrichten zu Ihren Bestellungen, etwa Zahlungsinformationen und Mahnungen,"
        " erhalten Sie weiterhin."
    ),
    address_label="E-Mail-Adresse",
)

ENGLISH = Texts(
    lang="en",
    confirm_title="Unsubscribe",
    confirm_lead="Please confirm that you want to unsubscribe.",
    will_stop="You will then no longer receive {label} from {shop}.",
    button="Unsubscribe",
    done_title="Unsubscribed",
    done_text="You have been unsubscribed and will no longer receive {label} from {shop}.",
    already_title="Already unsubscribed",
    already_text="You have already unsubscribed and no longer receive {label} from {shop}.",
    still_get=(
        "You will still receive important messages about your orders, such as payment"
        " information and payment reminders."
    ),
    address_label="Email address",
)

_BY_LANGUAGE = {"de": GERMAN, "en": ENGLISH}

# The failure page knows no shop, hence no language: it speaks both, and names nothing.
NOT_FOUND_TITLE = "Link ungültig · Invalid link"
NOT_FOUND_PARAGRAPHS = (
    (
        "de",
        "Dieser Abmeldelink ist ungültig oder unvollständig. Bitte verwenden Sie den"
        " vollständigen Link aus der E-Mail.",
    ),
    (
        "en",
        "This unsubscribe link is invalid or incomplete. Please use the complete link from"
        " the email.",
    ),
)


def texts_for(language: str) -> Texts:
    """The texts for a shop's language; English for anything the relay does not know."""
    return _BY_LANGUAGE.get(language, ENGLISH)
