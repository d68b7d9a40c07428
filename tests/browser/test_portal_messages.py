"""The Messages page in chromium (guide: "Utilisation des messages" to "Utilisation des éléments
supprimés"): play and seek, heard/new, forward as e-mail (the spool's .eml has the WAV), reply
and new messages recorded with the fake microphone, delete/restore/purge with the usage, faxes,
missed and received calls, and new messages appearing without a reload."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect
from sqlalchemy import select

from media import convert, faxdoc
from store import repository
from store.models import (
    Account,
    CallLogEntry,
    Contact,
    ContactGroup,
    GroupMember,
    Mailbox,
    Message,
    NotificationJob,
)
from tests.browser.conftest import DEMO_NUMBER, DEMO_SECOND, DESKTOP, PHONE, Box, Server, shoot
from tests.support.deposit import wav_bytes
from tests.support.faxes import document


def tone(seconds: float, hz: float = 440.0) -> bytes:
    return wav_bytes(seconds, hz)


PROMPTS = Path(convert.__file__).with_name("prompts") / "fr"


def speech(seconds: float, first: int = 0) -> bytes:
    """`seconds` of real speech (the French prompts, one after another) as 8 kHz WAV."""
    parts = []
    total = 0
    for path in sorted(PROMPTS.glob("*.wav"))[first:]:
        samples = convert.load_wav(path)
        parts.append(samples)
        total += len(samples)
        if total >= seconds * convert.RATE:
            break
    return convert.write_wav(np.concatenate(parts)[: int(seconds * convert.RATE)])


def row(page: Page, message_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'li.msg[data-id="{message_id}"]')


def wait_position(page: Page, message_id: int, seconds: float) -> None:
    """Until the message's audio element has played past `seconds`."""
    page.wait_for_function(
        "([id, t]) => { const a = document.querySelector(`li[data-id='${id}'] audio`);"
        " return !!a && a.currentTime >= t; }",
        arg=[message_id, seconds],
    )


def open_menu(page: Page, message_id: int) -> None:
    row(page, message_id).locator("summary").click()


def test_play_a_message_and_seek_marks_it_heard(page: Page, box: Box) -> None:
    box.contact(first_name="Élise", last_name="Côté", mobile_phone="613-555-0142")
    m = box.deposit(data=speech(4.0), duration=4.0, urgent=True)
    box.deposit(
        data=speech(9.0, 40), duration=9.0, caller_number="8195550177", caller_name="BELANGER LUC",
        received_at=datetime.now(UTC) - timedelta(days=1),
    )  # fmt: skip
    box.deposit(data=speech(6.0, 90), duration=6.0, caller_number=None, private=True)
    page.get_by_role("link", name="Messages").first.click()
    expect(page.locator('[data-count="voice-new"]')).to_have_text("3")
    r = row(page, m.message_id)
    expect(r.locator(".msg__caller")).to_have_text("Élise Côté")
    expect(r.get_by_text("Urgent !")).to_be_visible()
    expect(page.get_by_text("Appelant anonyme")).to_be_visible()
    expect(page.get_by_text("Privé", exact=True).first).to_be_visible()
    shoot(page, "messages")
    r.get_by_role("link", name="Lire le message de Élise Côté").click()
    audio = r.locator("audio")
    expect(audio).to_be_visible()
    wait_position(page, m.message_id, 0.2)
    expect(r).to_have_class("msg is-open is-playing")
    # Seek: click at three quarters of the waveform.
    wave = r.locator("[data-wave]")
    box_ = wave.bounding_box()
    assert box_ is not None
    wave.click(position={"x": box_["width"] * 0.75, "y": box_["height"] / 2})
    wait_position(page, m.message_id, 2.9)
    position = page.evaluate(
        "(id) => document.querySelector(`li[data-id='${id}'] audio`).currentTime", m.message_id
    )
    assert 2.9 <= position <= 4.0, position
    # Playing marked it heard: the count goes down without a reload, the player keeps playing.
    expect(page.locator('[data-count="voice-new"]')).to_have_text("2")
    assert box.message(m.message_id).heard is True  # type: ignore[union-attr]
    expect(r.locator("audio")).to_have_count(1)
    shoot(page, "messages-playing", full_page=False)


def test_mark_heard_and_new_changes_the_counts(page: Page, box: Box) -> None:
    m = box.deposit()
    page.goto("/messages")
    expect(page.locator('[data-count="voice-new"]')).to_have_text("1")
    expect(page.get_by_test_id("list-summary")).to_have_text("1 nouveau message · 0 écouté")
    open_menu(page, m.message_id)
    shoot(page, "messages-actions", full_page=False)
    page.get_by_role("menuitem", name="Marquer comme écouté").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le message est marqué comme écouté.")
    expect(page.locator('[data-count="voice-new"]')).to_have_count(0)
    expect(page.get_by_test_id("list-summary")).to_have_text("0 nouveau message · 1 écouté")
    open_menu(page, m.message_id)
    page.get_by_role("menuitem", name="Marquer comme nouveau").click()
    expect(page.locator('[data-count="voice-new"]')).to_have_text("1")
    assert box.message(m.message_id).heard is False  # type: ignore[union-attr]


def test_forward_as_email_writes_the_spool_with_the_wav(
    page: Page, box: Box, server: Server
) -> None:
    box.contact(first_name="Luc", last_name="Bélanger", email="luc@example.ca")
    m = box.deposit(data=tone(1.5))
    private = box.deposit(private=True)
    page.goto("/messages")
    open_menu(page, private.message_id)
    expect(
        row(page, private.message_id).get_by_role("menuitem", name="Renvoyer comme courriel")
    ).to_have_count(0)
    page.keyboard.press("Escape")
    open_menu(page, m.message_id)
    page.get_by_role("menuitem", name="Renvoyer comme courriel").click()
    dialog = page.locator("#dlg-email")
    expect(dialog.get_by_role("heading", name="Renvoyer comme courriel")).to_be_visible()
    dialog.get_by_role("button", name="Contacts", exact=True).click()
    picker = page.locator("#dlg-pick")
    expect(picker.get_by_text("luc@example.ca")).to_be_visible()
    picker.get_by_placeholder("Rechercher").fill("bel")
    picker.get_by_text("luc@example.ca").click()
    picker.get_by_role("button", name="Ajouter").click()
    expect(dialog.get_by_label("À", exact=True)).to_have_value("luc@example.ca")
    dialog.get_by_label("Cc", exact=True).fill("pas une adresse")
    dialog.get_by_label("Message").fill("Voici le message de ce matin.")
    dialog.get_by_role("button", name="Envoyer").click()
    expect(dialog.locator("[data-send-error]")).to_contain_text("pas une adresse")
    dialog.get_by_label("Cc", exact=True).fill("bureau@example.org")
    shoot(page, "forward-email-dialog", full_page=False)
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le message est envoyé par courriel.")
    (eml,) = list((server.root / "var" / "spool").glob("*.eml"))
    mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert mail["To"] == "luc@example.ca" and mail["Cc"] == "bureau@example.org"
    (attachment,) = list(mail.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_content() == m.data
    assert "Voici le message de ce matin." in mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


def test_reply_with_the_microphone_reaches_the_callers_mailbox(page: Page, box: Box) -> None:
    m = box.deposit(caller_number=DEMO_SECOND, caller_name="Demo Subscriber")
    page.goto("/messages")
    open_menu(page, m.message_id)
    page.get_by_role("menuitem", name="Répondre").click()
    dialog = page.locator("#dlg-reply")
    expect(dialog.get_by_role("heading", name="Répondre au message vocal")).to_be_visible()
    expect(dialog.get_by_label("À", exact=True)).to_have_value(DEMO_SECOND)
    dialog.get_by_text("Urgent !").click()
    dialog.get_by_role("button", name="Enregistrer", exact=True).click()
    stop = dialog.get_by_role("button", name="Arrêter")
    expect(stop).to_be_visible()
    page.wait_for_timeout(2000)
    stop.click()
    expect(dialog.locator("[data-rec-status]")).to_have_text(
        "Enregistré : écoutez-le, puis envoyez-le."
    )
    shoot(page, "reply-dialog", full_page=False)
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Votre message vocal est envoyé.")
    (reply,) = box.messages(DEMO_SECOND)
    assert (reply.origin, reply.original_message_id, reply.urgent) == ("reply", m.message_id, True)
    assert 1.4 <= reply.duration_seconds <= 3.0
    assert reply.caller_number == DEMO_NUMBER


def test_new_message_and_forward_as_voicemail_to_a_group(page: Page, box: Box) -> None:
    c = box.contact(first_name="Sophie", last_name="Tremblay", mobile_phone=DEMO_SECOND)
    with box.server.store.transaction() as s:
        account = s.scalar(select(Account))
        assert account is not None
        g = ContactGroup(account_id=account.id, name="Équipe", phone_code="42")
        s.add(g)
        s.flush()
        s.add(GroupMember(group_id=g.id, contact_id=c))
    page.goto("/messages")
    page.get_by_test_id("new-message").click()
    dialog = page.locator("#dlg-new")
    expect(dialog.get_by_role("heading", name="Nouveau message vocal")).to_be_visible()
    dialog.get_by_role("button", name="Contacts", exact=True).click()
    picker = page.locator("#dlg-pick")
    expect(picker.get_by_text("code de groupe 42")).to_be_visible()
    expect(picker.get_by_text("1 membre", exact=True)).to_be_visible()
    expect(picker.get_by_text("(613) 555-0101")).to_be_visible()
    shoot(page, "contact-picker", full_page=False)
    picker.get_by_text("Équipe").click()
    picker.get_by_role("button", name="Ajouter").click()
    expect(dialog.get_by_label("À", exact=True)).to_have_value("42")
    dialog.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_timeout(1500)
    dialog.get_by_role("button", name="Arrêter").click()
    shoot(page, "new-message-dialog", full_page=False)
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Votre message vocal est envoyé.")
    (sent,) = box.messages(DEMO_SECOND)
    assert sent.origin == "portal"
    # Forward it on as voicemail to a number that has no mailbox here: refused, clearly.
    m = box.deposit(data=tone(1.0))
    page.goto("/messages")
    open_menu(page, m.message_id)
    page.get_by_role("menuitem", name="Renvoyer comme message vocal").click()
    dialog = page.locator("#dlg-voicemail")
    dialog.get_by_label("À", exact=True).fill("416 555 0100")
    dialog.get_by_role("button", name="Envoyer").click()
    expect(dialog.locator("[data-send-error]")).to_contain_text(
        "(416) 555-0100 n'a pas de boîte vocale"
    )
    dialog.get_by_label("À", exact=True).fill("42")
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Votre message vocal est envoyé.")
    forwarded = box.messages(DEMO_SECOND)[-1]
    assert (forwarded.origin, forwarded.original_message_id) == ("forwarded", m.message_id)


def test_delete_restore_purge_and_the_storage_warning(page: Page, box: Box, server: Server) -> None:
    with server.store.transaction() as s:
        mb = s.get(Mailbox, DEMO_NUMBER)
        assert mb is not None
        mb.quota_seconds = 100
    keep = box.deposit(duration=50.0)
    gone = box.deposit(duration=45.0, caller_number="8195550177")
    page.goto("/messages")
    expect(page.get_by_test_id("storage-warning")).to_be_visible()  # 95 % of the limit
    row(page, gone.message_id).get_by_role(
        "button", name="Supprimer le message de (819) 555-0177"
    ).click()
    expect(page.get_by_test_id("flash")).to_have_text("Le message est déplacé vers Supprimés.")
    expect(page.locator('[data-count="deleted"]')).to_have_text("1")
    expect(page.get_by_test_id("storage-warning")).to_be_visible()  # Deleted still counts
    page.locator('[data-tab="deleted"]').click()
    expect(page.get_by_test_id("list-summary")).to_have_text("1 élément supprimé")
    shoot(page, "messages-deleted")
    open_menu(page, gone.message_id)
    page.get_by_role("menuitem", name="Restaurer").click()
    expect(page.get_by_test_id("flash")).to_have_text(
        "Le message est de retour dans la boîte de réception."
    )
    assert box.message(gone.message_id).folder == "inbox"  # type: ignore[union-attr]
    page.goto("/messages")
    row(page, gone.message_id).get_by_role(
        "button", name="Supprimer le message de (819) 555-0177"
    ).click()
    page.goto("/messages/deleted")
    open_menu(page, gone.message_id)
    page.get_by_role("menuitem", name="Supprimer définitivement").click()
    confirm = page.locator("#dlg-confirm")
    expect(confirm).to_contain_text("Supprimer définitivement ce message\u202f?")
    confirm.get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le message est supprimé définitivement.")
    assert box.message(gone.message_id) is None
    expect(page.get_by_test_id("storage-warning")).to_have_count(0)  # 50 % now
    expect(page.get_by_test_id("usage")).to_contain_text("50 s utilisées sur 1 min 40 s (50 %)")
    # Delete all, then purge all.
    page.goto("/messages")
    page.get_by_test_id("delete-all").click()
    page.locator("#dlg-confirm").get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Les messages sont déplacés vers Supprimés.")
    page.goto("/messages/deleted")
    page.get_by_test_id("purge-all").click()
    page.locator("#dlg-confirm").get_by_role("button", name="Supprimer").click()
    expect(page.get_by_test_id("flash")).to_have_text(
        "Supprimés est vide : l'espace est de nouveau libre."
    )
    assert box.message(keep.message_id) is None
    expect(page.get_by_test_id("empty")).to_have_text("Supprimés est vide.")


def test_faxes_missed_and_received_calls(page: Page, box: Box, server: Server) -> None:
    fax = box.deposit(kind="fax", caller_number="6135550188", caller_name="Cabinet Roy")
    tif = box.files.new_name(f"messages/{DEMO_NUMBER}", ".tif")  # as the switch stores a fax
    document(box.files.path(tif), 2)
    faxdoc.tiff_to_pdf(box.files.path(tif), box.files.path(tif).with_suffix(".pdf"))
    with server.store.transaction() as s:
        stored = s.get(Message, fax.message_id)
        assert stored is not None
        stored.file_path = tif
        stored.pages = 2
        stored.fax_remote_ident = "+1 613 555 0188"
        stored.fax_bit_rate = 14400
        stored.fax_status = "partial"  # the call ended during a third page
        repository.set_fax_number(s, DEMO_NUMBER, "6135550142")
    now = datetime.now(UTC)
    with server.store.transaction() as s:
        s.add(
            CallLogEntry(
                line_number=DEMO_NUMBER, direction="received", caller_number="4165550123",
                started_at=now - timedelta(hours=2), duration_seconds=184, disposition="answered",
            )
        )  # fmt: skip
        s.add(
            CallLogEntry(
                line_number=DEMO_NUMBER, direction="missed", caller_number="5145550199",
                caller_name="=HYPERLINK(1)", started_at=now - timedelta(hours=1),
                disposition="abandoned",
            )
        )  # fmt: skip
    page.goto("/messages/faxes")
    r = row(page, fax.message_id)
    expect(r.locator(".msg__meta")).to_contain_text("2 pages")
    # What the fax machine said, how fast it came, and that it was cut short.
    shown = {
        "fr": ("poste +1 613 555 0188", "14\u202f400 bit/s", "incomplète", "numéro de télécopie"),
        "en": ("station +1 613 555 0188", "14,400 bit/s", "incomplete", "fax number"),
    }
    for lang, (station, speed, partial, number) in shown.items():
        if lang == "en":
            page.get_by_role("link", name="English").click()
            r = row(page, fax.message_id)
        expect(r.get_by_test_id("fax-station")).to_have_text(station)
        expect(r.get_by_test_id("fax-speed")).to_have_text(speed)
        expect(r.get_by_test_id("fax-partial")).to_have_text(partial)
        expect(page.get_by_test_id("fax-number")).to_have_text(f"{number} (613) 555-0142")
        shoot(page, f"messages-faxes-{lang}")
    page.get_by_role("link", name="Français").click()
    r = row(page, fax.message_id)
    with page.expect_popup() as popup:
        r.get_by_role("link", name="Afficher la télécopie de (613) 555-0188").click()
    assert popup.value.url.endswith(f"/api/v1/lines/{DEMO_NUMBER}/messages/{fax.message_id}/pdf")
    popup.value.close()
    expect(page.locator('[data-count="fax-new"]')).to_have_count(0)  # viewing it marked it read
    open_menu(page, fax.message_id)
    expect(r.get_by_role("menuitem", name="Marquer comme nouvelle")).to_be_visible()
    r.get_by_role("menuitem", name="Renvoyer comme télécopie").click()
    dialog = page.locator("#dlg-fax")
    dialog.get_by_label("À", exact=True).fill("613 555 0199")
    dialog.get_by_role("button", name="Envoyer").click()
    # Queued for the switch: the fax's "forward as fax" page shows each number's result.
    expect(page.get_by_test_id("flash")).to_have_text(
        "La télécopie est en cours d'envoi : le résultat de chaque numéro s'affiche ci-dessous."
    )
    assert page.url.endswith(f"/messages/{fax.message_id}/fax")
    expect(page.get_by_test_id("fax-sends").locator("tbody td")).to_have_text(
        ["(613) 555-0199", "En attente", "", "0", ""]
    )
    shoot(page, "messages-fax-sends")
    with server.store.read() as s:
        [job] = s.scalars(select(NotificationJob).where(NotificationJob.kind == "fax")).all()
        assert (job.target, job.state, job.message_id) == ("6135550199", "pending", fax.message_id)
    page.goto("/messages/faxes")
    page.locator('[data-tab="missed"]').click()
    expect(page.get_by_test_id("list-summary")).to_have_text("2 appels manqués")  # incl. the fax
    shoot(page, "messages-missed")
    with page.expect_download() as download:
        page.get_by_test_id("export-calls").click()
    data = Path(download.value.path()).read_bytes()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["Date", "Numéro", "Nom"]
    assert "'=HYPERLINK(1)" in [cell for r_ in rows for cell in r_]
    page.locator('[data-tab="received"]').click()
    expect(page.get_by_test_id("list-summary")).to_have_text("1 appel reçu")
    shoot(page, "messages-received")
    # Add the caller to the contacts from the list.
    page.get_by_role("link", name="(416) 555-0123").click()
    add = page.locator("#dlg-add-contact")
    expect(add.get_by_label("Numéro", exact=True)).to_have_value("4165550123")
    add.get_by_label("Prénom").fill("Marc")
    add.get_by_label("Nom", exact=True).fill("Gagnon")
    add.get_by_label("Type de numéro").select_option("business_phone")
    add.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Le contact est enregistré.")
    expect(page.locator(".msg__caller").first).to_have_text("Marc Gagnon")
    with server.store.read() as s:
        c = s.scalar(select(Contact))
        assert c is not None and c.business_phone == "4165550123"


def test_english_messages_page(page: Page, box: Box) -> None:
    box.deposit(urgent=True)
    page.goto("/messages")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("link", name="New voice message")).to_be_visible()
    expect(page.get_by_test_id("list-summary")).to_have_text("1 new message · 0 heard")
    for tab in ("Messages", "Faxes", "Missed", "Received", "Deleted"):
        expect(page.locator(".subtabs").get_by_text(tab, exact=True)).to_be_visible()
    shoot(page, "messages-english")
    page.get_by_role("link", name="Français").click()
    expect(page.get_by_role("link", name="Nouveau message vocal")).to_be_visible()


def test_a_deposit_appears_without_a_reload(page: Page, box: Box) -> None:
    page.goto("/messages")
    expect(page.get_by_test_id("empty")).to_be_visible()
    page.evaluate("window.__stayed = true")
    m = box.deposit(caller_number="8195550177")
    expect(row(page, m.message_id)).to_be_visible(timeout=10_000)
    expect(page.locator('[data-count="voice-new"]')).to_have_text("1")
    assert page.evaluate("window.__stayed") is True  # no reload happened
    page.set_viewport_size(PHONE)
    page.set_viewport_size(DESKTOP)
