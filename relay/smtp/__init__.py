"""SMTP listeners: shop submission (587/465) and the bounce listener (25)."""
