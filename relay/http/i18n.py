"""Texts of the opt-out pages, in the shop's language (SPEC "Shops": `de` or `en`).

Each text is an HTML fragment with `{shop}`, `{label}`, `{address}` and `{date}` placeholders;
the values are escaped by `relay.http.pages` before they are put in, the fragments themselves
are trusted. Dates are written as the CLDR locale of the language writes them (Babel), as in
the rendered mail.
"""

import datetime
from dataclasses import dataclass

from babel.dates import format_date

LOCALES = {"de": "de_DE", "en": "en_GB"}


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
    undo_lead: str
    undo_button: str
    resubscribe_title: str
    resubscribe_text: str
    resubscribe_button: str
    resubscribed_title: str
    resubscribed_text: str
    expired_title: str
    expired_text: str


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
    undo_lead="Versehentlich abgemeldet? Bis zum {date} können Sie das rückgängig machen.",
    undo_button="Abmeldung rückgängig machen",
    resubscribe_title="Wieder anmelden",
    resubscribe_text="Sie erhalten dann wieder {label} von {shop}.",
    resubscribe_button="Wieder anmelden",
    resubscribed_title="Wieder angemeldet",
    resubscribed_text="Ihre Abmeldung ist aufgehoben: Sie erhalten wieder {label} von {shop}.",
    expired_title="Link abgelaufen",
    expired_text=(
        "Eine Abmeldung lässt sich über diesen Link nur 30 Tage lang rückgängig machen. Wenn Sie"
        " wieder {label} erhalten möchten, wenden Sie sich bitte an {shop}."
    ),
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
    undo_lead="Unsubscribed by mistake? You can undo it until {date}.",
    undo_button="Undo unsubscribe",
    resubscribe_title="Subscribe again",
    resubscribe_text="You will then receive {label} from {shop} again.",
    resubscribe_button="Subscribe again",
    resubscribed_title="Subscribed again",
    resubscribed_text="Your unsubscribe is undone: you will receive {label} from {shop} again.",
    expired_title="Link expired",
    expired_text=(
        "An unsubscribe can be undone with this link for 30 days only. If you would like to"
        " receive {label} again, please contact {shop}."
    ),
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


def long_date(timestamp: float, language: str) -> str:
    """'15. Juli 2025' / '15 July 2025' (UTC)."""
    day = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).date()
    return format_date(day, format="long", locale=LOCALES.get(language, "en_GB"))
