"""The Contact list in chromium (guide: "Gestion des contacts" to "Suppression des contacts et
des groupes"): new contact, search by first letters, edit one at a time, delete with a
confirmation, a new group used as a destination, import (with its report) and export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.contacts.csvformats import OUTLOOK_HEADERS
from store.models import Contact, ContactGroup
from tests.browser.conftest import DEMO_SECOND, Box, Server, shoot


def names(page: Page) -> list[str]:
    return page.locator("tr[data-row]:visible strong").all_inner_texts()


def test_new_contact_search_edit_and_delete(page: Page, box: Box, server: Server) -> None:
    box.contact(
        first_name="Luc", last_name="Bélanger", company="Bélanger & fils", mobile_phone="8195550142"
    )
    box.contact(
        first_name="Élise",
        last_name="Côté",
        business_phone="613-555-0177",
        email="elise@example.ca",
    )
    page.get_by_role("link", name="Contacts").first.click()
    expect(page.get_by_role("heading", name="Liste de contacts")).to_be_visible()
    page.get_by_test_id("new-contact").click()
    form = page.get_by_test_id("contact-form")
    expect(form).to_be_visible()
    form.get_by_label("Prénom").fill("Marc")
    form.get_by_label("Nom", exact=True).fill("Gagnon")
    form.get_by_label("Entreprise").fill("Gagnon Plomberie")
    form.get_by_label("Cellulaire").fill("pas un numéro")
    form.get_by_label("Courriel", exact=True).fill("marc@example.org")
    shoot(page, "contacts-new")
    form.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#err-mobile_phone")).to_have_text(
        "pas un numéro n'est pas un numéro de téléphone."
    )
    page.get_by_label("Cellulaire").fill("(819) 555-0100")
    page.get_by_test_id("contact-form").get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le contact est enregistré.")
    assert names(page) == ["Luc Bélanger", "Élise Côté", "Marc Gagnon"]
    # Search by first letters, accents ignored.
    page.get_by_test_id("search").fill("cot")
    assert names(page) == ["Élise Côté"]
    page.get_by_test_id("search").fill("b")
    assert names(page) == ["Luc Bélanger"]
    page.get_by_test_id("search").fill("")
    shoot(page, "contacts")
    # Edit: only with exactly one row checked.
    edit = page.get_by_test_id("edit")
    expect(edit).to_be_disabled()
    page.get_by_label("Sélectionner Marc Gagnon").check()
    expect(edit).to_be_enabled()
    page.get_by_label("Sélectionner Luc Bélanger").check()
    expect(edit).to_be_disabled()
    page.get_by_label("Sélectionner Luc Bélanger").uncheck()
    edit.click()
    form = page.get_by_test_id("contact-form")
    expect(page.get_by_role("heading", name="Modifier le contact")).to_be_visible()
    expect(form.get_by_label("Prénom")).to_have_value("Marc")
    form.get_by_label("Notes").fill("Rappeler après 9 h")
    form.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le contact est enregistré.")
    with server.store.read() as s:
        marc = s.scalar(select(Contact).where(Contact.first_name == "Marc"))
        assert marc is not None and marc.notes == "Rappeler après 9 h"
        assert marc.mobile_phone == "(819) 555-0100"
    # Select all (the rows shown by the search), delete, confirm.
    page.get_by_test_id("search").fill("l")
    page.get_by_label("Sélectionner tout").check()
    page.get_by_test_id("search").fill("")
    page.get_by_test_id("delete").click()
    dialog = page.locator("#dlg-delete")
    expect(dialog.locator("[data-delete-names] li")).to_have_text(["Luc Bélanger"])
    shoot(page, "contacts-delete", full_page=False)
    dialog.get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("flash")).to_have_text(
        "Les contacts et groupes sélectionnés sont supprimés."
    )
    assert names(page) == ["Élise Côté", "Marc Gagnon"]


def test_new_group_is_a_destination(page: Page, box: Box, server: Server) -> None:
    box.contact(first_name="Sophie", last_name="Tremblay", mobile_phone=DEMO_SECOND)
    box.contact(first_name="Luc", last_name="Bélanger", mobile_phone="8195550142")
    page.goto("/contacts")
    page.get_by_test_id("new-group").click()
    form = page.get_by_test_id("group-form")
    form.get_by_label("Nom du groupe").fill("Équipe")
    form.get_by_label("Code de téléphone").fill("42")
    form.get_by_placeholder("Rechercher").fill("tre")
    expect(form.locator("[data-member-list] li:visible")).to_have_count(1)
    form.get_by_text("Sophie Tremblay").click()
    expect(form.locator("[data-member-count]")).to_have_text("(1)")
    shoot(page, "contacts-group")
    form.get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le groupe est sauvegardé.")
    expect(page.get_by_test_id("group-row")).to_contain_text("Groupe · code 42")
    # The code is unique in the account.
    page.get_by_test_id("new-group").click()
    form = page.get_by_test_id("group-form")
    form.get_by_label("Nom du groupe").fill("Autre")
    form.get_by_label("Code de téléphone").fill("42")
    form.get_by_role("button", name="Sauvegarder").click()
    expect(page.locator("#err-phone_code")).to_have_text(
        "Le groupe Équipe a déjà ce code de téléphone."
    )
    with server.store.read() as s:
        assert s.scalar(select(ContactGroup.name)) == "Équipe"
    # Send a new voice message to the group.
    page.goto("/messages")
    page.get_by_test_id("new-message").click()
    dialog = page.locator("#dlg-new")
    dialog.get_by_label("À", exact=True).fill("42")
    dialog.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_timeout(1200)
    dialog.get_by_role("button", name="Arrêter").click()
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Votre message vocal est envoyé.")
    (sent,) = box.messages(DEMO_SECOND)
    assert sent.origin == "portal"


def test_import_then_list_then_export(page: Page, box: Box, tmp_path: Path) -> None:
    box.contact(first_name="Luc", last_name="Côté", mobile_phone="8195550142")
    rows = [
        {"First Name": "Luc", "Last Name": "Côté", "Mobile Phone": "4165550100"},  # conflict
        {
            "First Name": "Ana",
            "Last Name": "Roy",
            "E-mail Address": "ana@example.ca",
            "Company": "=1+1",
        },
        {"First Name": "Ben", "Last Name": "Roy", "E-mail Address": "pas-une-adresse"},
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(OUTLOOK_HEADERS)
    for r in rows:
        writer.writerow([r.get(h, "") for h in OUTLOOK_HEADERS])
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
    page.goto("/contacts")
    page.get_by_role("link", name="Importer").click()
    dialog = page.locator("#dlg-import")
    expect(dialog.get_by_role("heading", name="Importer les contacts")).to_be_visible()
    dialog.locator("input[type=file]").set_input_files(str(path))
    expect(dialog.locator("[data-file-name]")).to_have_text("contacts.csv")
    dialog.get_by_text("Écraser le contact").click()
    shoot(page, "contacts-import-dialog", full_page=False)
    dialog.get_by_role("button", name="Importer").click()
    report = page.get_by_test_id("import-report")
    expect(report.locator('[data-report="created"]')).to_have_text("1")
    expect(report.locator('[data-report="updated"]')).to_have_text("1")
    expect(report.locator('[data-report="rejected"]')).to_have_text("1")
    expect(page.get_by_test_id("rejected")).to_contain_text("4")  # the line of Ben Roy
    expect(page.get_by_test_id("rejected")).to_contain_text(
        "pas-une-adresse n'est pas une adresse de courriel."
    )
    assert names(page) == ["Luc Côté", "Ana Roy"]
    expect(page.get_by_test_id("contacts-table")).to_contain_text("(416) 555-0100")
    shoot(page, "contacts-import-report")
    page.get_by_role("link", name="Exporter tout").click()
    dialog = page.locator("#dlg-export")
    dialog.get_by_text("En format natif").click()
    shoot(page, "contacts-export-dialog", full_page=False)
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Exporter").click()
    assert download.value.suggested_filename == "contacts.csv"
    data = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(data, newline="")))
    assert [(r["First Name"], r["Last Name"]) for r in exported] == [
        ("Luc", "Côté"),
        ("Ana", "Roy"),
    ]
    assert all(r["Id"].isdigit() for r in exported)
    assert exported[1]["Company"] == "'=1+1"


def test_english_contact_list(page: Page, box: Box) -> None:
    box.contact(
        first_name="Luc", last_name="Côté", mobile_phone="8195550142", email="luc@example.ca"
    )
    page.goto("/contacts")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Contact list")).to_be_visible()
    for name in ("New contact", "New group"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    for name in ("Modify", "Delete"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
    page.get_by_role("link", name="Export all").click()
    dialog = page.locator("#dlg-export")
    expect(dialog.get_by_text("Outlook / Outlook Express compatible")).to_be_visible()
    expect(dialog.get_by_text("Windows Contacts on Vista")).to_be_visible()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.get_by_test_id("new-contact").click()
    expect(page.get_by_test_id("contact-form").get_by_label("Home")).to_be_visible()
    shoot(page, "contacts-english")


def test_a_long_contact_list_comes_in_pages_searched_whole(
    page: Page, box: Box, server: Server
) -> None:
    with server.store.transaction() as s:
        from store.models import Account

        account = s.scalar(select(Account))
        assert account is not None
        for i in range(60):
            last = f"Zénon{i:02d}" if i % 10 == 0 else f"Nom{i:02d}"
            s.add(Contact(account_id=account.id, first_name=f"Prénom{i}", last_name=last))
    page.goto("/contacts")
    expect(page.get_by_test_id("page-range")).to_have_text("1–50 sur 60")
    assert len(names(page)) == 50
    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-range")).to_have_text("51–60 sur 60")
    assert len(names(page)) == 10
    shoot(page, "contacts-page-2")
    # Enter searches the whole list, not only the page shown.
    page.get_by_test_id("search").fill("zén")
    page.get_by_test_id("search").press("Enter")
    expect(page).to_have_url(server.url + "/contacts?q=z%C3%A9n")
    assert sorted(names(page)) == [f"Prénom{i} Zénon{i:02d}" for i in range(0, 60, 10)]
    page.context.add_cookies([{"name": "relais_lang", "value": "en", "url": server.url}])
    page.goto("/contacts")
    expect(page.get_by_test_id("page-range")).to_have_text("1–50 of 60")
    expect(page.get_by_test_id("page-next")).to_have_text("Next")
