"""Notification kinds (SPEC.md "Notification kinds"): which a customer may opt out of."""

from dataclasses import dataclass

# Messages without X-Relay-Kind count as mandatory transactional mail.
IMPLICIT_KIND = "transactional"


@dataclass(frozen=True)
class Kind:
    name: str
    optional: bool  # the customer may opt out (gets List-Unsubscribe, RFC 8058)
    label_en: str
    label_de: str

    def label(self, language: str) -> str:
        return self.label_de if language == "de" else self.label_en


BUILTIN_KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("payment-info", False, "payment information", "Zahlungsinformationen"),
        Kind("payment-reminder", False, "payment reminders", "Zahlungserinnerungen"),
        Kind("dunning", False, "dunning letters", "Mahnungen"),
        Kind("payment-received", True, "payment confirmations", "Zahlungsbestätigungen"),
        Kind("refund", True, "refund confirmations", "Erstattungsbestätigungen"),
        Kind(IMPLICIT_KIND, False, "transactional messages", "Transaktionsmitteilungen"),
    )
}


def shop_kinds(custom: dict[str, bool]) -> dict[str, Kind]:
    """The kinds a shop knows: the built-in ones plus its custom kinds (name -> optional)."""
    kinds = dict(BUILTIN_KINDS)
    for name, optional in custom.items():
        kinds[name] = Kind(name, optional, name.replace("-", " "), name.replace("-", " "))
    return kinds
