"""The prompt catalogue: stable prompt ids -> French and English wording (SPEC S5, S7, S11).

Rules of this file:
- A prompt id names one meaning and never changes meaning once released; rewording a text is
  fine (`make prompts` regenerates it), reusing an id for something else is not.
- Every id has a French and an English text, so both prompt sets hold the same file names.
  A few ids exist for one language's grammar (`num_1_f` is "une" in French, "one" in English;
  `num_80_joined` is the "quatre-vingt" of "quatre-vingt mille"); their other text says the
  same thing so that nothing is ever missing.
- French is the wording of a Quebec carrier: boîte vocale, NIP, message d'accueil, carré (#),
  étoile (*), télécopie, renvoyer (a message).
- Texts are what a subscriber hears, written correctly. Where espeak-ng misreads the written
  form (it spells "NIP" and "PIN" letter by letter), `spoken_text` gives it the form to read.
- Menu options are fragments ("Pour écouter vos messages,") that the say layer joins with
  `press` and a key, so a menu's announcement is built from the same table as its keys.
- `beep` is a 1 kHz tone and `pause` a short silence; they are generated, not spoken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

Lang = Literal["fr", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("fr", "en")

PROMPTS_DIR: Final = Path(__file__).resolve().parent / "prompts"


@dataclass(frozen=True)
class Speech:
    """A prompt spoken by the text-to-speech voice of each language."""

    fr: str
    en: str
    fr_spoken: str | None = None
    en_spoken: str | None = None


@dataclass(frozen=True)
class Tone:
    """A generated sine tone (the record beep)."""

    hz: float
    ms: int
    dbfs: float
    fr: str
    en: str


@dataclass(frozen=True)
class Silence:
    """A generated silence, used between groups of digits and between menu options."""

    ms: int


Prompt = Speech | Tone | Silence


def _s(fr: str, en: str) -> Speech:
    return Speech(fr, en)


# --- numbers ---------------------------------------------------------------------------------
# Whole words for 0..29 (French sounds the t of "vingt-deux" and "vingt et un" only in the
# whole word) and for the tens; the say layer builds 31..99 as tens + unit ("trente" "deux",
# "soixante" "et" "onze", "quatre-vingt" "dix-sept").

_FR_NUMBERS: Final = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
    "vingt",
    "vingt_et_un",
    "vingt-deux",
    "vingt-trois",
    "vingt-quatre",
    "vingt-cinq",
    "vingt-six",
    "vingt-sept",
    "vingt-huit",
    "vingt-neuf",
]
_EN_NUMBERS: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "twenty-one",
    "twenty-two",
    "twenty-three",
    "twenty-four",
    "twenty-five",
    "twenty-six",
    "twenty-seven",
    "twenty-eight",
    "twenty-nine",
]
_TENS: Final = {
    30: ("trente", "thirty"),
    40: ("quarante", "forty"),
    50: ("cinquante", "fifty"),
    60: ("soixante", "sixty"),
    70: ("soixante-dix", "seventy"),
    80: ("quatre-vingts", "eighty"),
    90: ("quatre-vingt-dix", "ninety"),
}
_FR_ORDINALS: Final = [
    "premier",
    "deuxième",
    "troisième",
    "quatrième",
    "cinquième",
    "sixième",
    "septième",
    "huitième",
    "neuvième",
    "dixième",
    "onzième",
    "douzième",
    "treizième",
    "quatorzième",
    "quinzième",
    "seizième",
    "dix-septième",
    "dix-huitième",
    "dix-neuvième",
    "vingtième",
]
_EN_ORDINALS: Final = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]

WHOLE_NUMBERS: Final = 30
"""num_0 .. num_29 are whole words; above, only the tens are (num_30 .. num_90)."""
TEN_PREFIXES: Final = frozenset(
    {
        "num_20",
        "num_30",
        "num_40",
        "num_50",
        "num_60",
        "num_70",
        "num_80",
        "num_90",
        "num_80_joined",
    }
)
"""Tens that a unit follows in a compound number, joined by a hyphen in writing."""


def _number_prompts() -> dict[str, Prompt]:
    out: dict[str, Prompt] = {}
    for n, (fr, en) in enumerate(zip(_FR_NUMBERS, _EN_NUMBERS, strict=True)):
        out[f"num_{n}"] = Speech(fr.replace("_", " "), en)
    for n, (fr, en) in _TENS.items():
        out[f"num_{n}"] = Speech(fr, en)
    out["num_1_f"] = Speech("une", "one")  # une heure, une minute, une télécopie
    out["num_21_f"] = Speech("vingt et une", "twenty-one")
    # "quatre-vingt" before a unit or mille; espeak would sound the t of the written form.
    out["num_80_joined"] = Speech("quatre-vingt", "eighty", fr_spoken="quatre-vingts")
    out["num_hundred"] = _s("cent", "hundred")
    out["num_hundreds"] = _s("cents", "hundred")  # deux cents; English has no plural form
    out["num_thousand"] = _s("mille", "thousand")
    for n, (fr, en) in enumerate(zip(_FR_ORDINALS, _EN_ORDINALS, strict=True), start=1):
        out[f"ord_{n}"] = Speech(fr, en)
    out["ord_30"] = _s("trentième", "thirtieth")
    return out


# --- dates and times -------------------------------------------------------------------------

WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS: Final = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_FR_WEEKDAYS: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def _calendar_prompts() -> dict[str, Prompt]:
    out: dict[str, Prompt] = {}
    for key, fr in zip(WEEKDAYS, _FR_WEEKDAYS, strict=True):
        out[f"weekday_{key}"] = Speech(fr, key.capitalize())
    for key, fr in zip(MONTHS, _FR_MONTHS, strict=True):
        out[f"month_{key}"] = Speech(fr, key.capitalize())
    return out


_TIME_PROMPTS: Final[dict[str, Prompt]] = {
    "day_today": _s("aujourd'hui", "today"),
    "day_yesterday": _s("hier", "yesterday"),
    "date_the": _s("le", "the"),
    "at": _s("à", "at"),
    "time_oh": _s("zéro", "oh"),  # 2:05 -> "two oh five"
    "time_am": _s("du matin", "a.m."),
    "time_pm": _s("de l'après-midi", "p.m."),
    "time_midnight": _s("minuit", "midnight"),
    "unit_hour": _s("heure", "hour"),
    "unit_hours": _s("heures", "hours"),
    "unit_minute": _s("minute", "minute"),
    "unit_minutes": _s("minutes", "minutes"),
    "unit_second": _s("seconde", "second"),
    "unit_seconds": _s("secondes", "seconds"),
}


# --- sentences -------------------------------------------------------------------------------

_PHRASES: Final[dict[str, Prompt]] = {
    # keys and glue
    "press": _s("appuyez sur", "press"),
    "key_star": _s("l'étoile", "star"),
    "key_pound": _s("le carré", "pound"),
    "and": _s("et", "and"),
    "beep": Tone(1000.0, 400, -9.0, fr="(bip)", en="(beep)"),
    "pause": Silence(300),
    # deposit: greetings (system greetings; a name or a number is spoken between the parts)
    "greeting_system": _s(
        "La personne que vous tentez de joindre n'est pas disponible.",
        "The person you are calling is not available.",
    ),
    "greeting_system_busy": _s(
        "La personne que vous tentez de joindre est au téléphone.",
        "The person you are calling is on another call.",
    ),
    "greeting_system_absent": _s(
        "La personne que vous tentez de joindre est absente pour une période prolongée.",
        "The person you are calling is away for an extended period.",
    ),
    "greeting_person_at": _s("La personne au", "The person at"),
    "greeting_not_available": _s(
        "n'est pas disponible.",
        "is not available.",
    ),
    "greeting_busy": _s(
        "est au téléphone.",
        "is on another call.",
    ),
    "greeting_absent": _s(
        "est absente pour une période prolongée.", "is away for an extended period."
    ),
    "leave_message": _s(
        "Veuillez laisser votre message après le signal sonore.",
        "Please leave your message after the tone.",
    ),
    "record_then_pound": _s(
        "Ensuite, raccrochez, ou appuyez sur le carré pour plus d'options.",
        "Then hang up, or press pound for more options.",
    ),
    "mailbox_full": _s(
        "Cette boîte vocale est pleine et ne peut plus recevoir de messages.",
        "This mailbox is full and cannot take any more messages.",
    ),
    "cannot_take_message": _s(
        "Nous ne pouvons pas prendre votre message pour le moment. Veuillez rappeler plus tard.",
        "We cannot take your message right now. Please call again later.",
    ),
    "message_too_short": _s(
        "Votre message était trop court et n'a pas été envoyé.",
        "Your message was too short and was not sent.",
    ),
    "max_length_reached": _s(
        "Vous avez atteint la durée maximale d'un message.",
        "You have reached the maximum message length.",
    ),
    "message_sent": _s("Votre message a été envoyé.", "Your message has been sent."),
    "urgent_on": _s("Le message est marqué comme urgent.", "The message is marked urgent."),
    "urgent_off": _s(
        "Le message n'est plus marqué comme urgent.", "The message is no longer marked urgent."
    ),
    "private_on": _s("Le message est marqué comme privé.", "The message is marked private."),
    "private_off": _s(
        "Le message n'est plus marqué comme privé.", "The message is no longer marked private."
    ),
    # login
    "welcome": _s(
        "Bienvenue dans votre messagerie vocale.",
        "Welcome to your voice mail.",
    ),
    "enter_mailbox": _s(
        "Entrez votre numéro de boîte vocale, suivi du carré.",
        "Enter your mailbox number, followed by pound.",
    ),
    "enter_pin": _s(
        "Entrez votre NIP, suivi du carré.",
        "Enter your PIN, followed by pound.",
    ),
    "login_incorrect": _s(
        "Le numéro de boîte vocale ou le NIP est incorrect.",
        "The mailbox number or PIN is incorrect.",
    ),
    "pin_incorrect": _s("NIP incorrect.", "Incorrect PIN."),
    "too_many_attempts": _s("Trop de tentatives.", "Too many attempts."),
    "mailbox_locked": _s(
        "Cette boîte vocale est verrouillée. Réessayez plus tard.",
        "This mailbox is locked. Please try again later.",
    ),
    # counts ("Vous avez" 2 "nouveaux messages"; "Vous n'avez" "aucun nouveau message")
    "you_have": _s("Vous avez", "You have"),
    "you_have_not": _s("Vous n'avez", "You have"),
    "count_new_message": _s("nouveau message", "new message"),
    "count_new_messages": _s("nouveaux messages", "new messages"),
    "count_no_new_messages": _s("aucun nouveau message", "no new messages"),
    "count_saved_message": _s("message sauvegardé", "saved message"),
    "count_saved_messages": _s("messages sauvegardés", "saved messages"),
    "count_no_saved_messages": _s("aucun message sauvegardé", "no saved messages"),
    "count_message": _s("message", "message"),
    "count_messages": _s("messages", "messages"),
    "count_no_messages": _s("aucun message", "no messages"),
    "count_urgent_message": _s("message urgent", "urgent message"),
    "count_urgent_messages": _s("messages urgents", "urgent messages"),
    "count_no_urgent_messages": _s("aucun message urgent", "no urgent messages"),
    "count_new_fax": _s("nouvelle télécopie", "new fax"),
    "count_new_faxes": _s("nouvelles télécopies", "new faxes"),
    "count_no_new_faxes": _s("aucune nouvelle télécopie", "no new faxes"),
    "mailbox_almost_full": _s(
        "Votre boîte vocale est presque pleine.",
        "Your mailbox is almost full.",
    ),
    "own_mailbox_full": _s(
        "Votre boîte vocale est pleine. Supprimez des messages pour en recevoir d'autres.",
        "Your mailbox is full. Delete messages to receive new ones.",
    ),
    "faxes_on_portal": _s(
        "Consultez vos télécopies sur le portail.",
        "View your faxes on the web portal.",
    ),
    # message playback
    "first_new_message": _s("Premier nouveau message.", "First new message."),
    "next_message": _s("Message suivant.", "Next message."),
    "saved_messages": _s("Messages sauvegardés.", "Saved messages."),
    "no_more_messages": _s("Vous n'avez plus de messages.", "You have no more messages."),
    "urgent_message": _s("Message urgent.", "Urgent message."),
    "private_message": _s("Message privé.", "Private message."),
    "message_saved": _s("Le message a été sauvegardé.", "The message has been saved."),
    "message_deleted": _s("Le message a été supprimé.", "The message has been deleted."),
    "message_marked_new": _s(
        "Le message est marqué comme nouveau.", "The message is marked as new."
    ),
    "message_forwarded": _s("Le message a été renvoyé.", "The message has been forwarded."),
    # envelope ("Message de" 6 1 3 ... "reçu" "aujourd'hui" "à" ...)
    "envelope_from": _s("Message de", "Message from"),
    "envelope_from_unknown": _s(
        "Message d'un appelant inconnu,", "Message from an unknown caller,"
    ),
    "envelope_received": _s("reçu", "received"),
    "envelope_length": _s("Durée :", "Length:"),
    # a new fax by phone, with fax autoplay: "Une télécopie de 3 pages, de 6 1 3 ..., reçue
    # hier à 9 heures."
    "fax_of": _s("Une télécopie de", "A fax of"),
    "count_page": _s("page", "page"),
    "count_pages": _s("pages", "pages"),
    "count_no_pages": _s("aucune page", "no pages"),
    "fax_from": _s("de", "from"),
    "fax_from_unknown": _s("d'un expéditeur inconnu,", "from an unknown sender,"),
    "fax_received": _s("reçue", "received"),
    # recording by phone: "Enregistrez votre nom après le signal sonore." + "finish_with_pound"
    "record_greeting": _s(
        "Enregistrez votre message d'accueil après le signal sonore.",
        "Record your greeting after the tone.",
    ),
    "record_name": _s("Dites votre nom après le signal sonore.", "Say your name after the tone."),
    "record_message": _s(
        "Enregistrez votre message après le signal sonore.", "Record your message after the tone."
    ),
    "record_intro": _s(
        "Enregistrez une introduction après le signal sonore.",
        "Record an introduction after the tone.",
    ),
    "finish_with_pound": _s(
        "Appuyez sur le carré lorsque vous avez terminé.", "Press pound when you are finished."
    ),
    # options
    "greeting_saved": _s(
        "Votre message d'accueil a été enregistré.", "Your greeting has been saved."
    ),
    "name_saved": _s("Votre nom a été enregistré.", "Your name has been saved."),
    "recording_cancelled": _s("L'enregistrement a été annulé.", "The recording was cancelled."),
    "current_greeting_is": _s(
        "Vos appelants entendent",
        "Your callers hear",
    ),
    "greeting_kind_personal": _s("votre message d'accueil personnel.", "your personal greeting."),
    "greeting_kind_system": _s(
        "le message du système.",
        "the system greeting.",
    ),
    "greeting_kind_system_number": _s(
        "le message du système avec votre numéro.",
        "the system greeting with your number.",
    ),
    "greeting_kind_system_name": _s(
        "le message du système avec votre nom.",
        "the system greeting with your name.",
    ),
    "greeting_choice_saved": _s(
        "Votre choix a été enregistré.",
        "Your choice has been saved.",
    ),
    "no_personal_greeting": _s(
        "Aucun message d'accueil personnel n'est enregistré.",
        "No personal greeting is recorded.",
    ),
    "no_recorded_name": _s(
        "Aucun nom n'est enregistré.",
        "No name is recorded.",
    ),
    "extra_greeting_on": _s("Ce message d'accueil est activé.", "This greeting is on."),
    "extra_greeting_off": _s("Ce message d'accueil est désactivé.", "This greeting is off."),
    "extra_greeting_not_recorded": _s(
        "Ce message d'accueil n'est pas enregistré.",
        "This greeting is not recorded.",
    ),
    # PIN change (rules of SPEC S9)
    "enter_new_pin": _s(
        "Entrez votre nouveau NIP, suivi du carré.",
        "Enter your new PIN, followed by pound.",
    ),
    "confirm_new_pin": _s(
        "Entrez-le de nouveau, suivi du carré.",
        "Enter it again, followed by pound.",
    ),
    "pin_changed": _s("Votre NIP a été changé.", "Your PIN has been changed."),
    "pin_not_changed": _s("Votre NIP n'a pas été changé.", "Your PIN has not been changed."),
    "pin_mismatch": _s(
        "Les deux NIP entrés ne correspondent pas.", "The two PINs you entered do not match."
    ),
    "pin_rules": _s(
        "Le NIP compte de quatre à dix chiffres, sans chiffre répété ni suite de chiffres.",
        "A PIN has four to ten digits, and is not one digit repeated or a run of digits.",
    ),
    "pin_error_length": _s(
        "Ce NIP n'a pas le bon nombre de chiffres.",
        "That PIN has the wrong number of digits.",
    ),
    "pin_error_repeated": _s(
        "Ce NIP répète un seul chiffre.",
        "That PIN repeats one digit.",
    ),
    "pin_error_sequence": _s(
        "Ce NIP est une suite de chiffres.",
        "That PIN is a run of digits.",
    ),
    "pin_error_mailbox": _s(
        "Ce NIP reprend votre numéro de boîte vocale.", "That PIN repeats your mailbox number."
    ),
    # send, reply, forward
    "enter_destination": _s(
        "Entrez le numéro ou le code de groupe, suivi du carré.",
        "Enter the number or group code, followed by pound.",
    ),
    "enter_next_destination": _s(
        "Entrez un autre numéro, ou appuyez sur le carré pour terminer.",
        "Enter another number, or press pound to finish.",
    ),
    "destination_added": _s("Destinataire ajouté.", "Recipient added."),
    "destination_refused": _s(
        "Ce destinataire ne peut pas être joint.", "That destination cannot be reached."
    ),
    "destination_no_mailbox": _s(
        "Ce numéro n'a pas de boîte vocale.", "There is no mailbox at that number."
    ),
    "no_destination": _s("Aucun destinataire n'a été entré.", "No recipient was entered."),
    "private_not_forwardable": _s(
        "Ce message est privé et ne peut pas être renvoyé.",
        "This message is private and cannot be forwarded.",
    ),
    "reply_not_possible": _s(
        "Il n'est pas possible de répondre à ce message.",
        "It is not possible to reply to this message.",
    ),
    # general
    "invalid_choice": _s("Ce choix n'est pas valide.", "That choice is not valid."),
    "no_response": _s("Nous n'avons reçu aucune réponse.", "We did not receive a response."),
    "try_again": _s("Veuillez réessayer.", "Please try again."),
    "help_keys": _s(
        "Appuyez sur l'étoile pour revenir, ou sur zéro pour réentendre les options.",
        "Press star to go back, or zero to hear the options again.",
    ),
    "one_moment": _s("Un instant, s'il vous plaît.", "One moment, please."),
    "service_unavailable": _s(
        "Service temporairement indisponible. Veuillez rappeler plus tard.",
        "Service temporarily unavailable. Please call back later.",
    ),
    "goodbye": _s("Au revoir.", "Goodbye."),
    # outdial notification (SPEC S7) and faxes (SPEC S11)
    "outdial_hello": _s(
        "Bonjour, ici votre messagerie vocale.",
        "Hello, this is your voice mail.",
    ),
    "outdial_new_message": _s(
        "Vous avez un nouveau message vocal.",
        "You have a new voice message.",
    ),
    "outdial_new_urgent_message": _s(
        "Vous avez un nouveau message urgent.",
        "You have a new urgent message.",
    ),
    "outdial_new_fax": _s(
        "Vous avez une nouvelle télécopie.",
        "You have a new fax.",
    ),
    "fax_waiting": _s("Des télécopies vous attendent.", "You have faxes waiting."),
    # answer confirmation on ring-table legs: "Call for <line> from <caller>; press 1 to accept"
    "confirm_call_for": _s("Appel pour", "Call for"),
    "confirm_from": _s("de la part du", "from"),
    "confirm_from_private": _s("d'un numéro privé.", "from a private number."),
    "confirm_press_1": _s(
        "Pour prendre l'appel, faites le 1.",
        "To accept the call, press 1.",
    ),
    # menu option fragments: the say layer adds "press" and the key
    "menu_send_message": _s("Pour envoyer votre message,", "To send your message,"),
    "menu_listen": _s("Pour l'écouter,", "To listen to it,"),
    "menu_rerecord": _s("Pour le réenregistrer,", "To record it again,"),
    "menu_mark_urgent": _s("Pour le marquer comme urgent,", "To mark it urgent,"),
    "menu_unmark_urgent": _s("Pour retirer la mention urgent,", "To remove the urgent mark,"),
    "menu_mark_private": _s("Pour le marquer comme privé,", "To mark it private,"),
    "menu_unmark_private": _s("Pour retirer la mention privé,", "To remove the private mark,"),
    "menu_listen_messages": _s("Pour écouter vos messages,", "To listen to your messages,"),
    "menu_send_voice_message": _s("Pour envoyer un message vocal,", "To send a voice message,"),
    "menu_options": _s(
        "Pour les options,",
        "For options,",
    ),
    "menu_exit": _s("Pour quitter,", "To exit,"),
    "menu_replay": _s("Pour réécouter le message,", "To replay the message,"),
    "menu_save": _s("Pour le sauvegarder,", "To save it,"),
    "menu_delete": _s("Pour le supprimer,", "To delete it,"),
    "menu_reply": _s("Pour y répondre,", "To reply to it,"),
    "menu_forward": _s("Pour le renvoyer,", "To forward it,"),
    "menu_envelope": _s(
        "Pour la provenance et l'heure,",
        "For the sender and time,",
    ),
    "menu_mark_new": _s("Pour le marquer comme nouveau,", "To mark it as new,"),
    "menu_next_message": _s("Pour passer au message suivant,", "For the next message,"),
    "menu_main_menu": _s("Pour revenir au menu principal,", "To return to the main menu,"),
    "menu_previous": _s("Pour revenir au menu précédent,", "To go back,"),
    "menu_record_greeting": _s(
        "Pour enregistrer votre message d'accueil,",
        "To record your greeting,",
    ),
    "menu_choose_greeting": _s(
        "Pour choisir votre message d'accueil,",
        "To choose your greeting,",
    ),
    "menu_record_name": _s("Pour enregistrer votre nom,", "To record your name,"),
    "menu_change_pin": _s("Pour changer votre NIP,", "To change your PIN,"),
    "menu_extra_greetings": _s(
        "Pour les messages d'accueil supplémentaires,", "For your extra greetings,"
    ),
    "menu_greeting_personal": _s(
        "Pour votre message d'accueil personnel,",
        "For your personal greeting,",
    ),
    "menu_greeting_system": _s(
        "Pour le message du système,",
        "For the system greeting,",
    ),
    "menu_greeting_system_number": _s(
        "Pour le message du système avec votre numéro,",
        "For the system greeting with your number,",
    ),
    "menu_greeting_system_name": _s(
        "Pour le message du système avec votre nom,",
        "For the system greeting with your name,",
    ),
    "menu_greeting_busy": _s(
        "Pour le message d'accueil si vous êtes occupé,",
        "For the busy greeting,",
    ),
    "menu_greeting_no_answer": _s(
        "Pour le message d'accueil si vous ne répondez pas,",
        "For the no-answer greeting,",
    ),
    "menu_greeting_absent": _s(
        "Pour le message d'absence prolongée,",
        "For the extended absence greeting,",
    ),
    "menu_turn_on": _s("Pour l'activer,", "To turn it on,"),
    "menu_turn_off": _s("Pour le désactiver,", "To turn it off,"),
    "menu_record": _s("Pour l'enregistrer,", "To record it,"),
    "menu_accept": _s("Pour le conserver,", "To keep it,"),
    "menu_cancel": _s("Pour annuler,", "To cancel,"),
    "menu_log_in": _s("Pour accéder à votre boîte vocale,", "To log in to your mailbox,"),
}


def _build() -> Mapping[str, Prompt]:
    table: dict[str, Prompt] = {}
    for part in (_number_prompts(), _calendar_prompts(), _TIME_PROMPTS, _PHRASES):
        overlap = table.keys() & part.keys()
        if overlap:  # pragma: no cover - guards the tables above
            raise AssertionError(f"duplicate prompt ids: {sorted(overlap)}")
        table.update(part)
    return MappingProxyType(table)


PROMPTS: Final[Mapping[str, Prompt]] = _build()
"""Every prompt, by id. The ids are also the WAV file names under prompts/<lang>/."""

# espeak-ng spells these abbreviations letter by letter; subscribers say them as words.
_SPOKEN_FORMS: Final[dict[Lang, tuple[tuple[re.Pattern[str], str], ...]]] = {
    "fr": ((re.compile(r"\bNIP\b"), "nip"),),
    "en": ((re.compile(r"\bPINs\b"), "pins"), (re.compile(r"\bPIN\b"), "pin")),
}


def check_language(lang: str) -> Lang:
    """The language if it has a prompt set, else ValueError."""
    if lang == "fr":
        return "fr"
    if lang == "en":
        return "en"
    raise ValueError(f"unsupported language: {lang!r}")


def get(prompt_id: str) -> Prompt:
    """The prompt with this id, else ValueError."""
    try:
        return PROMPTS[prompt_id]
    except KeyError:
        raise ValueError(f"unknown prompt id: {prompt_id!r}") from None


def text(prompt_id: str, lang: str) -> str:
    """The written text of a prompt ("" for a silence)."""
    language = check_language(lang)
    prompt = get(prompt_id)
    if isinstance(prompt, Silence):
        return ""
    return prompt.fr if language == "fr" else prompt.en


def spoken_text(prompt_id: str, lang: str) -> str:
    """The text handed to the speech synthesiser for a spoken prompt."""
    language = check_language(lang)
    prompt = get(prompt_id)
    if not isinstance(prompt, Speech):
        raise ValueError(f"prompt is not speech: {prompt_id!r}")
    override = prompt.fr_spoken if language == "fr" else prompt.en_spoken
    if override is not None:
        return override
    out = prompt.fr if language == "fr" else prompt.en
    for pattern, replacement in _SPOKEN_FORMS[language]:
        out = pattern.sub(replacement, out)
    return out


def render_text(prompt_ids: Iterable[str], lang: str) -> str:
    """What a sequence of prompts says, as one line of text (silences become commas)."""
    words: list[str] = []
    previous = ""
    for prompt_id in prompt_ids:
        if isinstance(get(prompt_id), Silence):
            if words and not words[-1].endswith((",", ".", ":")):
                words[-1] += ","
            previous = ""
            continue
        word = text(prompt_id, lang)
        if previous in TEN_PREFIXES and _is_unit(prompt_id, 19 if lang == "fr" else 9):
            words[-1] += "-" + word  # trente-deux, quatre-vingt-dix-sept, twenty-first
        else:
            words.append(word)
        previous = prompt_id
    return " ".join(words)


def _is_unit(prompt_id: str, largest: int) -> bool:
    # French joins 1..19 to its tens (soixante-dix-sept); English only 1..9 (twenty ten).
    kind, _, rest = prompt_id.partition("_")
    number = rest.removesuffix("_f")
    return kind in ("num", "ord") and number.isdigit() and 1 <= int(number) <= largest


def prompt_path(prompt_id: str, lang: str, root: Path | None = None) -> Path:
    """Where the WAV of a prompt lives (prompts/<lang>/<id>.wav)."""
    language = check_language(lang)
    get(prompt_id)
    return (root or PROMPTS_DIR) / language / f"{prompt_id}.wav"


def prompt_paths(prompt_ids: Iterable[str], lang: str, root: Path | None = None) -> list[Path]:
    """The WAV files of a sequence of prompts, in order."""
    return [prompt_path(prompt_id, lang, root) for prompt_id in prompt_ids]
