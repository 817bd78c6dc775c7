"""The words of the settings, design, DNS and problems pages, and of the actions' refusals per
field: `key: (de, en)`, merged into relay.http.console.texts.TEXTS."""

SETTINGS_TEXTS: dict[str, tuple[str, str]] = {
    # settings
    "settings.title": ("Einstellungen", "Settings"),
    "settings.sender": ("Absenderadresse", "Sender address"),
    "settings.sender_hint": (
        "An einer Ihrer Domains: {domains}.",
        "At one of your domains: {domains}.",
    ),
    "settings.sender_name": ("Absendername", "Sender name"),
    "settings.language": ("Sprache des Shops", "The shop's language"),
    "settings.kinds": ("Benachrichtigungen", "Notifications"),
    "settings.kinds_hint": (
        "Abgeschaltete Arten werden nicht gesendet; sie erscheinen als „nicht gesendet“.",
        "Kinds switched off are not sent; they show as “not sent”.",
    ),
    "settings.optional": ("Kunden können sich abmelden", "customers may opt out"),
    "settings.mandatory": ("Pflicht-E-Mail", "mandatory"),
    "settings.save": ("Einstellungen speichern", "Save settings"),
    "settings.saved": ("Gespeichert.", "Saved."),
    "settings.domains": ("Domains", "Domains"),
    "lang.de": ("Deutsch", "German"),
    "lang.en": ("Englisch", "English"),
    # design
    "design.title": ("Design", "Design"),
    "design.settings": ("Ihr Design", "Your design"),
    "design.header_image": (
        "Kopfbild (PNG oder JPEG, höchstens 200 KB)",
        "Header image (PNG or JPEG, at most 200 KB)",
    ),
    "design.current_header": (
        "Jetzt: {type}, {width}×{height} Pixel.",
        "Now: {type}, {width}×{height} pixels.",
    ),
    "design.no_header": (
        "Kein Kopfbild: der Shopname steht als Überschrift.",
        "No header image: the shop's name is the heading.",
    ),
    "design.remove_header": ("Kopfbild entfernen", "Remove the header image"),
    "design.primary": (
        "Hauptfarbe (Buttons, Links, Überschriften)",
        "Primary colour (buttons, links, headings)",
    ),
    "design.text": ("Textfarbe", "Text colour"),
    "design.background": ("Hintergrund der Karte", "Card background"),
    "design.font": ("Schriften", "Fonts"),
    "design.font_hint": (
        "Zum Beispiel: Open Sans, Arial. Websichere Schriften werden ergänzt.",
        "For example: Open Sans, Arial. Web-safe fonts are added.",
    ),
    "design.footer": (
        "Fußzeile (Impressum: Firma, Anschrift, Kontakt)",
        "Footer (imprint: company, address, contact)",
    ),
    "design.language": ("Standardsprache der E-Mails", "Default language of the mail"),
    "design.contrast": (
        "Kontrast zum Hintergrund: Text {text}:1, Hauptfarbe {primary}:1 (nötig: 4,5:1).",
        "Contrast with the background: text {text}:1, primary {primary}:1 (needed: 4.5:1).",
    ),
    "design.save": ("Design speichern", "Save design"),
    "design.saved": ("Design gespeichert.", "Design saved."),
    "design.preview": ("Vorschau", "Preview"),
    "design.preview_kind": ("Art", "Kind"),
    "design.preview_language": ("Sprache", "Language"),
    "design.preview_show": ("Vorschau anzeigen", "Show preview"),
    "design.preview_note": (
        "Die Vorschau zeigt Ihre Änderungen schon vor dem Speichern; die Test-E-Mail verwendet"
        " das gespeicherte Design.",
        "The preview shows your changes before you save; the test e-mail uses the saved design.",
    ),
    "design.preview_failed": ("Keine Vorschau möglich", "No preview possible"),
    "design.desktop": ("Breit (Desktop)", "Wide (desktop)"),
    "design.phone": ("Schmal (Telefon)", "Narrow (phone)"),
    "test.title": ("Test-E-Mail", "Test e-mail"),
    "test.to": ("An", "To"),
    "test.kind": ("Art", "Kind"),
    "test.send": ("Test-E-Mail senden", "Send a test e-mail"),
    "test.sent": (
        "Test-E-Mail an {to} eingereiht ({id}): {state}.",
        "Test e-mail to {to} queued ({id}): {state}.",
    ),
    "test.unavailable": (
        "Test-E-Mails sendet nur der laufende Relay.",
        "Only the running relay sends test e-mails.",
    ),
    # DNS
    "dns.title": ("DNS", "DNS"),
    "dns.verified": (
        "bestätigt: Ihre E-Mails werden mit Ihrer Domain signiert",
        "verified: your mail is signed with your domain",
    ),
    "dns.not_verified": ("nicht bestätigt", "not verified"),
    "dns.checked": ("Zuletzt geprüft: {when}", "Last checked: {when}"),
    "dns.never": ("Noch nie geprüft.", "Never checked yet."),
    "dns.stale": (
        "DNS war seit {when} nicht erreichbar; das letzte Ergebnis gilt weiter.",
        "DNS could not be asked since {when}; the last result still counts.",
    ),
    "dns.fallback_warning": (
        "{domain} ist nicht bestätigt: Ihre E-Mails gehen von der Adresse des Relays ({fallback})"
        " mit Ihrem Namen hinaus, Ihre Adresse steht als Antwortadresse darin. Veröffentlichen"
        " Sie die Einträge auf der Seite DNS und prüfen Sie dann.",
        "{domain} is not verified: your mail goes out from the relay's address ({fallback})"
        " with your name, and your address as the reply address. Publish the records on the"
        " DNS page, then check.",
    ),
    "dns.publish": ("Einträge zum Veröffentlichen", "Records to publish"),
    "dns.name": ("Name", "Name"),
    "dns.type": ("Typ", "Type"),
    "dns.value": ("Wert", "Value"),
    "dns.need": ("Nötig", "Needed"),
    "need.required": ("erforderlich", "required"),
    "need.recommended": ("empfohlen", "recommended"),
    "need.optional": ("optional", "optional"),
    "dns.found": ("Was die letzte Prüfung fand", "What the last check found"),
    "dns.check": ("Prüfung", "Check"),
    "dns.status": ("Ergebnis", "Result"),
    "dns.what": ("Gefunden", "Found"),
    "dns.todo": ("Was zu tun ist", "What to do"),
    "dns.check_now": ("Jetzt prüfen", "Check now"),
    "dns.checked_now": (
        "Geprüft: {verified} von {total} Domains bestätigt.",
        "Checked: {verified} of {total} domains verified.",
    ),
    "dns.public_mailbox": (
        "Bei {domain} kann nur der Anbieter Einträge veröffentlichen: Ihre E-Mails gehen immer"
        " von der Adresse des Relays.",
        "Only the provider can publish records at {domain}: your mail always goes out from the"
        " relay's address.",
    ),
    "dns.english": (
        "Die Einzelheiten der Prüfung stehen auf Englisch.",
        "The details of the check are in English.",
    ),
    "status.ok": ("in Ordnung", "fine"),
    "status.warning": ("Warnung", "warning"),
    "status.error": ("Fehler", "error"),
    "status.unknown": ("unbekannt", "unknown"),
    "status.optional": ("optional", "optional"),
    # problems
    "problems.title": ("Probleme", "Problems"),
    "problems.open": (
        "Pflicht-E-Mails, die den Kunden nicht erreicht haben",
        "Mandatory mail that did not reach the customer",
    ),
    "problems.none": ("Keine offenen Probleme.", "No open problems."),
    "problems.ack": ("Erledigt", "Done"),
    "problems.acked": ("Als erledigt markiert.", "Marked as done."),
    "problems.acked_by": ("erledigt ({who}, {when})", "done ({who}, {when})"),
    "problems.show_all": ("Auch erledigte anzeigen", "Show done ones too"),
    "problems.cut": (
        "Gezeigt werden die neuesten {shown} von {total} Fällen.",
        "The newest {shown} of {total} cases are shown.",
    ),
    "problems.suppressions_cut": (
        "Gezeigt werden die neuesten {shown} Sperren und Abmeldungen; alle liefert die API"
        " (GET /api/v1/suppressions, seitenweise).",
        "The newest {shown} blocks and opt-outs are shown; the API lists them all"
        " (GET /api/v1/suppressions, page by page).",
    ),
    "problems.show_open": ("Nur offene anzeigen", "Show open ones only"),
    "problems.bounced": ("Abgewiesene E-Mails (die letzten 50)", "Bounced mail (the last 50)"),
    "problems.complaints": ("Beschwerden", "Complaints"),
    "problems.blocked": ("Gesperrte Adressen", "Blocked addresses"),
    "problems.optouts": ("Abmeldungen", "Opt-outs"),
    "problems.address": ("Adresse", "Address"),
    "problems.since": ("Seit", "Since"),
    "problems.why": ("Warum", "Why"),
    "problems.kind": ("Art", "Kind"),
    "problems.when": ("Wann", "When"),
    "problems.order": ("Bestellung", "Order"),
    "problems.what": ("Was geschah", "What happened"),
    "problems.todo": ("Was zu tun ist", "What to do"),
    "problems.nothing": ("Keine.", "None."),
    # refusals of the actions, per field (German: the action's own words follow as details)
    "field.sender": (
        "Diese Absenderadresse geht nicht: sie muss an einer Ihrer Domains liegen.",
        "This sender address cannot be used: it must be at one of your domains.",
    ),
    "field.sender_name": (
        "Der Absendername muss eine Zeile mit 1 bis 200 Zeichen sein.",
        "The sender name must be one line of 1 to 200 characters.",
    ),
    "field.language": ("Diese Sprache gibt es nicht.", "There is no such language."),
    "field.kind": ("Diese Art gibt es nicht.", "There is no such kind."),
    "field.primary": (
        "Die Hauptfarbe geht nicht (Format #rrggbb, Kontrast mindestens 4,5:1).",
        "The primary colour cannot be used (format #rrggbb, contrast at least 4.5:1).",
    ),
    "field.text": (
        "Die Textfarbe geht nicht (Format #rrggbb, Kontrast mindestens 4,5:1).",
        "The text colour cannot be used (format #rrggbb, contrast at least 4.5:1).",
    ),
    "field.background": (
        "Die Hintergrundfarbe geht nicht (Format #rrggbb, Kontrast mindestens 4,5:1).",
        "The background colour cannot be used (format #rrggbb, contrast at least 4.5:1).",
    ),
    "field.font": (
        "Schriftnamen dürfen nur Buchstaben, Ziffern, Leerzeichen und Bindestriche enthalten.",
        "Font names may hold only letters, digits, spaces and hyphens.",
    ),
    "field.footer": ("Die Fußzeile ist zu lang.", "The footer is too long."),
    "field.header_image": (
        "Das Kopfbild geht nicht: PNG oder JPEG, höchstens 200 KB.",
        "The header image cannot be used: PNG or JPEG, at most 200 KB.",
    ),
    "field.to": (
        "An diese Adresse geht keine Test-E-Mail.",
        "No test e-mail can go to this address.",
    ),
    "field.shop": ("Der Shop wurde entfernt.", "The shop was removed."),
}
