"""The console's words, German and English side by side: `key: (de, en)` (the settings, design,
DNS and problems pages' in relay.http.console.texts_settings). A test checks that every key a
template uses is here and that both languages have every text.

What happened to a message is not here: relay.explain words it for the CLI, the API and the
console alike. The states' short names (the badges) are, in STATE_WORDS.
"""

from __future__ import annotations

from relay.http.console.texts_settings import SETTINGS_TEXTS

TEXTS: dict[str, tuple[str, str]] = {
    **SETTINGS_TEXTS,
    "app.name": ("Shop-Konsole", "Shop console"),
    # navigation
    "nav.overview": ("Übersicht", "Overview"),
    "nav.orders": ("Bestellungen", "Orders"),
    "nav.problems": ("Probleme", "Problems"),
    "nav.settings": ("Einstellungen", "Settings"),
    "nav.design": ("Design", "Design"),
    "nav.dns": ("DNS", "DNS"),
    "nav.logout": ("Abmelden", "Log out"),
    "nav.skip": ("Zum Inhalt", "Skip to content"),
    "nav.main": ("Hauptmenü", "Main menu"),
    "nav.language": ("Sprache", "Language"),
    # log-in
    "login.title": ("Anmelden", "Log in"),
    "login.shop": ("Shop", "Shop"),
    "login.shop_hint": (
        "Der Name Ihres Shops, wie beim SMTP-Zugang.",
        "Your shop's name, as for SMTP.",
    ),
    "login.email": ("E-Mail-Adresse", "E-mail address"),
    "login.email_hint": (
        "Nur für Konsolen-Benutzer; leer lassen, wenn Sie sich mit dem SMTP-Passwort des Shops"
        " anmelden.",
        "For console users only; leave it empty to log in with the shop's SMTP password.",
    ),
    "login.password": ("Passwort", "Password"),
    "login.submit": ("Anmelden", "Log in"),
    "login.failed": (
        "Shop, E-Mail-Adresse oder Passwort stimmen nicht.",
        "The shop, e-mail address or password is wrong.",
    ),
    "login.throttled": (
        "Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es in {seconds} Sekunden"
        " wieder.",
        "Too many failed log-ins. Please try again in {seconds} seconds.",
    ),
    "login.bye": ("Sie sind abgemeldet.", "You are logged out."),
    "login.unavailable": (
        "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es gleich noch einmal.",
        "Logging in is not possible right now. Please try again in a moment.",
    ),
    # errors
    "error.not_found_title": ("Nicht gefunden", "Not found"),
    "error.not_found": (
        "Diese Seite gibt es nicht, oder sie gehört nicht zu Ihrem Shop.",
        "This page does not exist, or it does not belong to your shop.",
    ),
    "error.refused_title": ("Nicht ausgeführt", "Not done"),
    "error.csrf": (
        "Das Formular war abgelaufen oder kam nicht von dieser Seite; nichts wurde geändert."
        " Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
        "The form had expired or did not come from this page; nothing was changed. Please"
        " reload the page and try again.",
    ),
    "error.session": (
        "Ihre Sitzung ist abgelaufen; nichts wurde geändert. Bitte melden Sie sich neu an.",
        "Your session has ended; nothing was changed. Please log in again.",
    ),
    "error.method_title": ("Nur für ein Formular", "Only for a form"),
    "error.method": (
        "Diese Adresse nimmt nur ein abgeschicktes Formular an; nichts wurde geändert.",
        "This address only takes a form that is sent; nothing was changed.",
    ),
    "error.too_large_title": ("Zu groß", "Too large"),
    "error.too_large": (
        "Das Formular ist größer als {kb} KB; nichts wurde gespeichert.",
        "The form is larger than {kb} KB; nothing was saved.",
    ),
    "error.internal_title": ("Fehler", "Error"),
    "error.internal": (
        "Der Relay konnte diese Anfrage nicht ausführen. Bitte versuchen Sie es später noch"
        " einmal; besteht der Fehler weiter, sagen Sie dem Betreiber Bescheid.",
        "The relay could not do this. Please try again later; if it keeps failing, tell the"
        " relay's admin.",
    ),
    "error.details": ("Einzelheiten", "Details"),
    "error.to_login": ("Zur Anmeldung", "To the log-in page"),
    "error.back": ("Zur Übersicht", "To the overview"),
    # overview
    "overview.title": ("Übersicht", "Overview"),
    "overview.problems": (
        "{count} Pflicht-E-Mail(s) haben den Kunden nicht erreicht und warten auf Sie.",
        "{count} mandatory e-mail(s) did not reach the customer and are waiting for you.",
    ),
    "overview.no_problems": ("Keine offenen Probleme.", "No open problems."),
    "overview.no_mail": (
        "In den letzten 30 Tagen wurden keine E-Mails gesendet.",
        "No mail was sent in the last 30 days.",
    ),
    # chart and rates
    "chart.title": ("Ihre E-Mails der letzten 30 Tage", "Your mail in the last 30 days"),
    "chart.desc": (
        "Oben je Tag: zugestellte, verzögerte und abgewiesene E-Mails übereinander; unten:"
        " Beschwerden und Abmeldungen (eigener Maßstab).",
        "Top, per day: delivered, deferred and bounced mail stacked; below: complaints and"
        " opt-outs (a scale of their own).",
    ),
    "chart.delivered": ("zugestellt", "delivered"),
    "chart.deferred": ("verzögert", "deferred"),
    "chart.bounced": ("abgewiesen", "bounced"),
    "chart.complained": ("Beschwerden", "complaints"),
    "chart.opted_out": ("Abmeldungen", "opt-outs"),
    "chart.table": ("Die Zahlen je Tag", "The figures per day"),
    "chart.day": ("Tag", "Day"),
    "rates.title": ("Quoten der letzten 7 Tage", "Rates of the last 7 days"),
    "rates.bounce": ("Bounce-Quote", "Bounce rate"),
    "rates.complaint": ("Beschwerdequote", "Complaint rate"),
    "rates.value": ("{rate} ({count} von {of})", "{rate} ({count} of {of})"),
    "rates.limits": (
        "Warnung über {warning}, kritisch ab {trouble}",
        "warning above {warning}, trouble from {trouble}",
    ),
    "rates.bounce_source": (
        "Grenzen wie bei Amazon SES (die großen Postfach-Anbieter nennen keine).",
        "Limits as Amazon SES publishes them (the big mailbox providers publish none).",
    ),
    "rates.complaint_source": (
        "Grenzen aus den Absender-Richtlinien von Gmail und Yahoo (seit Februar 2024).",
        "Limits from Gmail's and Yahoo's sender guidelines (since February 2024).",
    ),
    "level.ok": ("in Ordnung", "fine"),
    "level.warning": ("Warnung", "warning"),
    "level.trouble": ("kritisch", "trouble"),
    "level.too-few": ("zu wenige E-Mails für eine Aussage", "too few messages to tell"),
    # orders
    "orders.title": ("Bestellungen", "Orders"),
    "orders.search_label": (
        "Bestellnummer oder E-Mail-Adresse des Kunden",
        "Order number or the customer's e-mail address",
    ),
    "orders.search": ("Suchen", "Search"),
    "orders.results_for": ("Ergebnisse für „{query}“", "Results for “{query}”"),
    "orders.order": ("Bestellung", "Order"),
    "orders.last": ("Letzte E-Mail", "Last e-mail"),
    "orders.kind": ("Art", "Kind"),
    "orders.to": ("An", "To"),
    "orders.count": ("E-Mails", "E-mails"),
    "orders.status": ("Stand", "Status"),
    "orders.no_order": ("ohne Bestellnummer", "no order number"),
    "orders.none": ("Keine Bestellungen gefunden.", "No orders found."),
    "orders.next": ("Ältere Bestellungen", "Older orders"),
    "orders.first": ("Zu den neuesten", "Back to the newest"),
    "orders.show_message": ("E-Mail ansehen", "View e-mail"),
    # one message's kind (relay.kinds has the plural labels, for opt-out pages)
    "kind.payment-info": ("Zahlungsinformation", "Payment information"),
    "kind.payment-reminder": ("Zahlungserinnerung", "Payment reminder"),
    "kind.dunning": ("Mahnung", "Dunning letter"),
    "kind.payment-received": ("Zahlungsbestätigung", "Payment confirmation"),
    "kind.refund": ("Erstattungsbestätigung", "Refund confirmation"),
    "kind.transactional": ("Transaktionsmitteilung", "Transactional message"),
    # one order, one message
    "order.title": ("Bestellung {order}", "Order {order}"),
    "order.back": ("Alle Bestellungen", "All orders"),
    "order.cut": (
        "Gezeigt werden die ersten {shown} von {total} E-Mails dieser Bestellung.",
        "The first {shown} of this order's {total} e-mails are shown.",
    ),
    "msg.received": ("Eingegangen", "Received"),
    "msg.subject": ("Betreff", "Subject"),
    "msg.kind": ("Art", "Kind"),
    "msg.recipient": ("Empfänger", "Recipient"),
    "msg.status": ("Stand", "Status"),
    "msg.what": ("Was geschah", "What happened"),
    "msg.test": ("Test", "Test"),
    "msg.typo": ("Möglicher Tippfehler: {text}", "Possible typo: {text}"),
    "msg.template": ("Aus der Vorlage {template} gerendert", "Rendered from template {template}"),
    "msg.own": ("Von Ihrem Shop-System geliefert", "Supplied by your shop system"),
    "msg.identity_shop": ("Mit Ihrer Domain signiert", "Signed with your domain"),
    "msg.identity_fallback": (
        "Von der Adresse des Relays gesendet (Ihre Domain ist nicht bestätigt)",
        "Sent from the relay's address (your domain is not verified)",
    ),
    "msg.show": ("E-Mail ansehen", "View e-mail"),
    "message.no_subject": ("(ohne Betreff)", "(no subject)"),
    "message.back": ("Zurück zur Bestellung {order}", "Back to order {order}"),
    "message.history": ("Verlauf", "History"),
    "message.when": ("Wann", "When"),
    "message.event": ("Ereignis", "Event"),
    "message.attempts": ("Zustellversuche", "Delivery attempts"),
    "message.server": ("Server", "Server"),
    "message.reply": ("Antwort", "Reply"),
    "message.content": ("Inhalt", "Content"),
    "message.frame_title": ("Inhalt der E-Mail", "Content of the e-mail"),
    "message.frame_note": (
        "Geschützte Ansicht: Skripte, Formulare und Bilder aus dem Internet sind abgeschaltet;"
        " Bilder aus der E-Mail selbst werden gezeigt.",
        "Safe view: scripts, forms and images from the internet are off; images inside the"
        " e-mail itself are shown.",
    ),
    "message.body_gone": (
        "Der Inhalt wurde nach Ablauf der Aufbewahrungsfrist gelöscht; der Nachweis des"
        " Versands bleibt.",
        "The content was deleted when the retention period ended; the proof of sending stays.",
    ),
    "message.no_text": ("Die E-Mail hat keinen lesbaren Text.", "The e-mail has no readable text."),
}

# The badge of a recipient's state (relay.model.State).
STATE_WORDS: dict[str, tuple[str, str]] = {
    "queued": ("wartet", "waiting"),
    "inflight": ("wird gesendet", "sending"),
    "delivered": ("zugestellt", "delivered"),
    "deferred": ("verzögert", "delayed"),
    "bounced": ("abgewiesen", "bounced"),
    "failed": ("nicht zustellbar", "failed"),
    "suppressed": ("nicht gesendet", "not sent"),
    "quarantined": ("zurückgehalten", "held back"),
}


def field_error(t: object, field: str | None, detail: str) -> str:
    """A refusal in the page's language: in English the action's own sentence (it says what
    exactly is wrong); in German the field's sentence, with the action's words as details."""
    language = getattr(t, "language", "en")
    key = f"field.{field}"
    if language == "en" or key not in TEXTS:
        return detail
    return f"{TEXTS[key][0]} ({TEXTS['error.details'][0]}: {detail})"
