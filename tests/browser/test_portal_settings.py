"""Message settings (greetings recorded with a fake microphone, an MP3 upload) and the
notifications page in chromium, read back through the JSON API."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_NUMBER, Server, shoot

MESSAGES = f"/api/v1/lines/{DEMO_NUMBER}/message-settings"
NOTIFICATIONS = f"/api/v1/lines/{DEMO_NUMBER}/notifications"


def apply(page: Page) -> None:
    page.get_by_test_id("apply").click()
    expect(page.get_by_test_id("flash")).to_have_text("Vos modifications sont enregistrées.")


def greeting(api: httpx.Client, kind: str) -> dict[str, object]:
    listed = api.get(f"/api/v1/lines/{DEMO_NUMBER}/greetings").json()["greetings"]
    return next(g for g in listed if g["kind"] == kind)


def test_message_settings(api: httpx.Client, page: Page) -> None:
    page.get_by_role("link", name="Réglages des messages").click()
    page.wait_for_url("**/message-settings")
    page.get_by_label("Renvoyer les messages et les télécopies comme courriels").check()
    page.locator("[data-open-email-dialog]").click()
    dialog = page.locator("#dlg-email")
    expect(dialog.get_by_role("heading", name="Adresse de courriel")).to_be_visible()
    dialog.locator("input").fill("pas une adresse")
    dialog.get_by_role("button", name="Ajouter").click()
    expect(dialog.locator("[data-email-error]")).to_be_visible()
    dialog.locator("input").fill("jeanne@example.com")
    dialog.get_by_role("button", name="Ajouter").click()
    expect(page.locator("[data-email-list] .chip")).to_have_text(["jeanne@example.com×"])
    page.get_by_label("Laisser l'original dans la boîte de réception").uncheck()
    page.get_by_label("Ignorer le NIP").check()
    page.get_by_label("Messagerie vocale à lancement automatique").check()
    page.get_by_label("Message seulement").check()
    page.locator('input[name="greeting"][value="system_number"]').check()
    shoot(page, "message-settings")
    apply(page)
    body = api.get(MESSAGES).json()
    assert body["forward_to_email"] is True
    assert body["forward_emails"] == ["jeanne@example.com"]
    assert (body["keep_original"], body["skip_pin"], body["autoplay_voice"]) == (False, True, True)
    assert (body["envelope_mode"], body["greeting"]) == ("message", "system_number")
    # Choosing the personal greeting without a recording is refused next to the choice.
    page.locator('input[name="greeting"][value="personal"]').check()
    page.get_by_test_id("apply").click()
    expect(page.locator('.field-error[data-field="greeting"]')).to_have_text(
        "Enregistrez ou téléversez d'abord votre message d'accueil personnalisé."
    )
    assert api.get(MESSAGES).json()["greeting"] == "system_number"


def test_record_a_greeting_with_the_microphone_and_play_it(api: httpx.Client, page: Page) -> None:
    page.goto("/message-settings")
    page.get_by_role("button", name="Enregistrer le message d'accueil personnalisé").click()
    dialog = page.locator("#dlg-greeting")
    expect(dialog.get_by_role("heading", name="Message d'accueil personnalisé")).to_be_visible()
    dialog.get_by_role("button", name="Enregistrer", exact=True).click()
    stop = dialog.get_by_role("button", name="Arrêter")
    expect(stop).to_be_visible()
    page.wait_for_timeout(2200)
    stop.click()
    expect(dialog.locator("[data-rec-status]")).to_have_text(
        "Enregistré : écoutez-le, puis sauvegardez-le."
    )
    expect(dialog.locator("audio")).to_be_visible()
    dialog.get_by_role("button", name="Sauvegarder").click()
    expect(dialog.locator("[data-greeting-saved]")).to_be_visible()
    expect(dialog.locator("[data-greeting-saved]")).to_have_text(
        "Le message d'accueil est sauvegardé."
    )
    saved = greeting(api, "personal")
    assert saved["recorded"] is True
    assert 1.5 <= float(saved["duration_seconds"]) <= 3.5  # type: ignore[arg-type]
    # Listen: the player now plays the stored 8 kHz WAV.
    audio = dialog.locator("audio")
    expect(audio).to_have_attribute(
        "src", re.compile(rf"^/api/v1/lines/{DEMO_NUMBER}/greetings/personal\?t=\d+$")
    )
    played = page.evaluate(
        """async () => {
            const a = document.querySelector('#dlg-greeting audio');
            await a.play();
            await new Promise(r => setTimeout(r, 600));
            const t = a.currentTime; a.pause();
            return [t, a.duration];
        }"""
    )
    assert played[0] > 0.2 and 1.5 <= played[1] <= 3.5, played
    shoot(page, "greeting-dialog", full_page=False)
    dialog.get_by_role("button", name="Fermer").click()
    expect(page.locator('[data-star="personal"]')).to_be_visible()  # marked with *
    page.locator('input[name="greeting"][value="personal"]').check()
    apply(page)
    assert api.get(MESSAGES).json()["greeting"] == "personal"
    expect(page.locator('[data-star="personal"]')).to_be_visible()


def test_upload_an_mp3_greeting(api: httpx.Client, page: Page, tmp_path: Path) -> None:
    mp3 = tmp_path / "absence.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:duration=3",
            "-ac",
            "2",
            str(mp3),
        ],
        check=True,
        timeout=60,
    )
    page.goto("/message-settings")
    page.get_by_text("Options supplémentaires").click()
    expect(page.locator('[data-star="busy"]')).to_be_hidden()
    page.get_by_role("button", name="Enregistrer : Message d'accueil si occupé").click()
    dialog = page.locator("#dlg-greeting")
    dialog.get_by_label("Ou téléversez un fichier audio").set_input_files(str(mp3))
    dialog.get_by_role("button", name="Sauvegarder").click()
    expect(dialog.locator("[data-greeting-saved]")).to_be_visible()
    dialog.get_by_role("button", name="Fermer").click()
    expect(page.locator('[data-star="busy"]')).to_be_visible()
    page.get_by_role("checkbox", name="Message d'accueil si occupé").check()
    apply(page)
    assert api.get(MESSAGES).json()["busy_greeting_enabled"] is True
    stored = greeting(api, "busy")
    assert float(stored["duration_seconds"]) == pytest.approx(3.0, abs=0.15)  # type: ignore[arg-type]
    wav = api.get(f"/api/v1/lines/{DEMO_NUMBER}/greetings/busy")
    assert wav.headers["content-type"] == "audio/wav"
    assert wav.content[:4] == b"RIFF" and int.from_bytes(wav.content[24:28], "little") == 8000
    # A file that is not audio is refused in the dialog with the server's message.
    text = tmp_path / "notes.txt"
    text.write_text("pas du son")
    page.get_by_role("button", name="Enregistrer : Message d'accueil d'absence prolongée").click()
    dialog.get_by_label("Ou téléversez un fichier audio").set_input_files(str(text))
    dialog.get_by_role("button", name="Sauvegarder").click()
    expect(dialog.locator("[data-greeting-error]")).to_contain_text("n'est pas un fichier audio")
    dialog.get_by_role("button", name="Fermer").click()


def test_notifications(api: httpx.Client, page: Page, server: Server) -> None:
    page.get_by_role("link", name="Notifications").first.click()
    mwi = page.locator('[data-targets="mwi"]')
    mwi.get_by_role("button", name="Nouvelle entrée").click()
    entry = mwi.locator("dialog")
    entry.locator("input").fill("12")
    entry.get_by_role("button", name="Ajouter").click()
    expect(entry.locator("[data-target-error]")).to_be_visible()
    entry.locator("input").fill("819 555 0142")
    entry.get_by_role("button", name="Ajouter").click()
    rows = mwi.locator("tbody tr")
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_label("819 555 0142: Toutes les télécopies").uncheck()
    email = page.locator('[data-targets="email"]')
    for address in ("jeanne@example.com", "6135550123@msg.telus.com"):
        email.get_by_role("button", name="Nouvelle entrée").click()
        email.locator("dialog input").fill(address)
        email.locator("dialog").get_by_role("button", name="Ajouter").click()
    expect(email.locator("tbody tr")).to_have_count(2)
    email.locator("tbody tr").first.get_by_role("button").click()  # X
    expect(email.locator("tbody tr")).to_have_count(1)
    expect(
        page.get_by_label(
            "Envoyer par courriel un avis de messages entrants aux adresses suivantes"
        )
    ).to_be_checked()

    pager = page.locator("section", has=page.get_by_role("heading", name="Téléavertisseur"))
    pager.get_by_label(
        "Aviser les téléavertisseurs suivants des messages entrants selon le programme"
    ).check()
    pager.locator('[data-schedule="pager"] > summary').click()
    pager.get_by_role("button", name="Ajouter une plage horaire").click()
    pager.locator(".day", has_text="Ven").click()  # weekdays by default: leave Friday out
    pager.get_by_label("Adresse de courriel du téléavertisseur").fill("pager@example.com")
    pager.get_by_label("Numéro de rappel").fill("613 555 0100")
    pager.get_by_text("Message vocal urgent").click()

    outdial = page.locator("section", has=page.get_by_role("heading", name="Automate d'appels"))
    outdial.get_by_label("Transmettre une notification d'automate d'appels").check()
    outdial.get_by_label("Numéro de téléphone à appeler").fill("613 555 0199")
    outdial.get_by_text("Tous les messages vocaux").click()
    outdial.get_by_label("Délai pour les messages normaux (minutes)").fill("30")
    outdial.get_by_label("Délai pour les messages urgents (minutes)").fill("5")
    outdial.get_by_label("Nombre de tentatives").fill("4")
    outdial.get_by_label("Minutes entre les tentatives").fill("20")
    outdial.get_by_label("lorsque l'appel de notification reçoit une réponse").uncheck()

    override = page.locator(
        "section", has=page.get_by_role("heading", name="Annulation des notifications")
    )
    override.get_by_label("Ignorer vos notifications d'automates d'appels").check()
    end = date.today() + timedelta(days=10)
    override.get_by_label("Date de fin", exact=True).fill(end.isoformat())
    override.get_by_label("Numéro de téléphone à appeler").fill("819 555 0188")
    override.get_by_text("Message vocal urgent").click()
    shoot(page, "notifications")
    apply(page)
    # The end date in the page's language, whatever the browser's own date format.
    from babel.dates import format_date

    end_field = page.get_by_label("Date de fin", exact=True)
    expect(end_field).to_have_attribute("placeholder", "aaaa-mm-jj")
    expect(end_field).to_have_value(end.isoformat())
    expect(page.get_by_test_id("end-date-words")).to_have_text(
        format_date(end, "full", locale="fr_CA")
    )
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    expect(page.get_by_test_id("end-date-words")).to_have_text(
        format_date(end, "full", locale="en_CA")
    )
    expect(page.get_by_label("End date", exact=True)).to_have_attribute("placeholder", "yyyy-mm-dd")
    page.get_by_role("contentinfo").get_by_role("link", name="Français").click()
    body = api.get(NOTIFICATIONS).json()
    assert body["mwi"]["targets"] == [
        {"number": DEMO_NUMBER, "types": ["all_faxes", "urgent_voice", "all_voice"]},
        {"number": "8195550142", "types": ["urgent_voice", "all_voice"]},
    ]
    assert body["email"] == {
        "enabled": True,
        "targets": [
            {
                "address": "6135550123@msg.telus.com",
                "types": ["all_faxes", "urgent_voice", "all_voice"],
            }
        ],
    }
    assert body["pager"]["enabled"] is True
    assert body["pager"]["schedule"] == [{"days": [0, 1, 2, 3], "start": "08:00", "end": "17:00"}]
    assert (body["pager"]["address"], body["pager"]["callback_number"]) == (
        "pager@example.com",
        "6135550100",
    )
    assert body["pager"]["types"] == ["urgent_voice"]
    out = body["outdial"]
    assert (out["enabled"], out["number"], out["types"]) == (True, "6135550199", ["all_voice"])
    assert (out["delay_normal_minutes"], out["delay_urgent_minutes"]) == (30, 5)
    assert (out["max_attempts"], out["retry_minutes"]) == (4, 20)
    assert (out["stop_on_answer"], out["stop_on_access"]) == (False, True)
    over = body["override"]
    assert (over["enabled"], over["end_date"], over["number"], over["types"]) == (
        True,
        end.isoformat(),
        "8195550188",
        ["urgent_voice"],
    )
    # Clear list empties the MWI table; applying with the option on is refused.
    mwi.get_by_role("button", name="Vider la liste").click()
    expect(mwi.locator("tbody tr")).to_have_count(0)
    page.get_by_test_id("apply").click()
    expect(page.locator('.field-error[data-field="mwi.targets"]')).to_have_text(
        "Ajoutez au moins un numéro de téléphone."
    )
    page.get_by_label("Envoyer une notification téléphonique de messages entrants").uncheck()
    apply(page)
    assert api.get(NOTIFICATIONS).json()["mwi"] == {"enabled": False, "targets": []}
    # Put the lamp back for the other tests.
    api.put(
        NOTIFICATIONS,
        json={
            "mwi": {
                "enabled": True,
                "targets": [
                    {"number": DEMO_NUMBER, "types": ["all_faxes", "urgent_voice", "all_voice"]}
                ],
            }
        },
    )


def test_the_forwarding_address_field_stays_in_view(api: httpx.Client, page: Page) -> None:
    page.goto("/message-settings")
    for x in page.locator("[data-email-remove]").all():  # addresses an earlier test saved
        x.click()
    field = page.get_by_test_id("email-add-input")
    expect(field).to_be_visible()  # never a lone Add button beside an empty gap
    field.fill("pas une adresse")
    page.locator("[data-open-email-dialog]").click()
    expect(page.locator("[data-email-inline-error]")).to_have_text(
        "Entrez une adresse de courriel comme nom@exemple.com."
    )
    expect(page.locator("#dlg-email")).not_to_be_visible()
    field.fill("luc@example.ca")
    field.press("Enter")
    expect(page.locator("[data-email-list] .chip")).to_have_text(["luc@example.ca×"])
    expect(page.locator("[data-email-inline-error]")).to_be_hidden()
    expect(
        page.get_by_label("Renvoyer les messages et les télécopies comme courriels")
    ).to_be_checked()
    shoot(page, "message-settings-email")
    apply(page)
    assert api.get(MESSAGES).json()["forward_emails"] == ["luc@example.ca"]
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    expect(page.get_by_test_id("email-add-input")).to_be_visible()
    expect(page.get_by_role("textbox", name="E-mail address", exact=True)).to_be_visible()
