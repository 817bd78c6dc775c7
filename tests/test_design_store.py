"""A shop's design and templates in the store, on both backends, as two nodes see them: a
change made through one database handle (node A: `relay shop design`, the console) is what
the next rendering through another handle (node B) uses, at once: the design is cached by its
digest, read again on every rendering, and templates are read on every rendering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from relay.compose import StoredAssets, design_to_store
from relay.render import Design
from relay.render.templates import default_template
from relay.store.db import open_database
from relay.store.designs import (
    StoredTemplate,
    delete_template,
    get_design,
    list_templates,
    save_design,
    save_template,
)
from relay.store.shops import shops_version
from tests.store_fixtures import make_shop, new_database

pytestmark = pytest.mark.backends("sqlite", "postgresql")
HEADER = (Path(__file__).parent / "data" / "render" / "header.png").read_bytes()
Fresh = Callable[[], str | None]


def test_a_design_changed_on_one_node_is_the_next_rendering_on_another(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    url = fresh_store()
    node_a = new_database(tmp_path, "shop", url=url)
    node_b = open_database(url or "sqlite:///relay.db", tmp_path)
    shop = make_shop("shop")
    assert StoredAssets(node_b.read()).design(shop) == Design(language="en")  # none stored
    before = shops_version(node_b.read())
    red = Design.create(header_image=HEADER, primary="#b4153c", footer="Shop GmbH", language="de")
    with node_a.transaction() as tx:
        save_design(tx, "shop", design_to_store(red), ("header_image", "primary", "footer"))
    assert shops_version(node_b.read()) > before  # every cache of shops reads them again
    seen = StoredAssets(node_b.read()).design(shop)
    assert (seen.primary, seen.footer, seen.language) == ("#b4153c", "Shop GmbH", "de")
    assert seen.header is not None and get_design(node_b.read(), "shop").header_image == HEADER  # type: ignore[union-attr]
    plain = Design.create(primary="#0b3d2e", language="de")  # the image removed
    with node_a.transaction() as tx:
        save_design(tx, "shop", design_to_store(plain), ("header_image", "primary"))
    seen = StoredAssets(node_b.read()).design(shop)
    assert (seen.primary, seen.header) == ("#0b3d2e", None)
    assert get_design(node_b.read(), "shop").header_image is None  # type: ignore[union-attr]
    node_b.close()


def test_a_template_saved_or_reset_on_one_node_is_used_by_another(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    url = fresh_store()
    node_a = new_database(tmp_path, "shop", "other", url=url)
    node_b = open_database(url or "sqlite:///relay.db", tmp_path)
    shop = make_shop("shop")
    default = default_template("payment-reminder", "de")
    own = default.to_file_text().replace("Zahlungserinnerung", "Erinnerung", 1)
    for text in (own, own.replace("Erinnerung", "Bitte zahlen", 1)):  # saved, then replaced
        with node_a.transaction() as tx:
            save_template(tx, "shop", StoredTemplate("payment-reminder", "de", text, 1.0))
        used = StoredAssets(node_b.read()).template(shop, "payment-reminder", "de")
        assert used.to_file_text() == text.rstrip("\n") + "\n"
    assert [t.kind for t in list_templates(node_b.read(), "shop")] == ["payment-reminder"]
    assert list_templates(node_b.read(), "other") == []  # one shop's template is its own
    other = StoredAssets(node_b.read()).template(make_shop("other"), "payment-reminder", "de")
    assert other == default
    with node_a.transaction() as tx:
        assert delete_template(tx, "shop", "payment-reminder", "de", 2.0)
        assert not delete_template(tx, "shop", "payment-reminder", "de", 2.0)
    assert StoredAssets(node_b.read()).template(shop, "payment-reminder", "de") == default
    node_b.close()
