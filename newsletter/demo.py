"""Demo lists, subscribers, an event and a welcome mail for the zero-setup start."""

import secrets
from datetime import timedelta
from pathlib import Path

from . import campaigns, events
from .accounts import create_user
from .extensions import db
from .models import MailingList, Role, Subscriber, SubscriberStatus, Subscription, User, utcnow

DEMO_LISTS = [
    {
        "slug": "newsletter",
        "names": {
            "en": "Newsletter",
            "es": "Boletín",
            "fr": "Lettre d'information",
            "de": "Newsletter",
        },
        "descriptions": {
            "en": "Our monthly news.",
            "es": "Nuestras noticias mensuales.",
            "fr": "Nos nouvelles du mois.",
            "de": "Unsere monatlichen Neuigkeiten.",
        },
    },
    {
        "slug": "events",
        "names": {"en": "Events", "es": "Eventos", "fr": "Événements", "de": "Veranstaltungen"},
        "descriptions": {
            "en": "Invitations to meetings and campaigns near you.",
            "es": "Invitaciones a reuniones y campañas cerca de usted.",
            "fr": "Invitations aux réunions et campagnes près de chez vous.",
            "de": "Einladungen zu Treffen und Kampagnen in Ihrer Nähe.",
        },
    },
    {
        "slug": "podcasts",
        "names": {"en": "Podcasts", "es": "Pódcasts", "fr": "Podcasts", "de": "Podcasts"},
        "descriptions": {
            "en": "New episodes as they are published.",
            "es": "Los nuevos episodios en cuanto se publican.",
            "fr": "Les nouveaux épisodes dès leur parution.",
            "de": "Neue Folgen, sobald sie erscheinen.",
        },
    },
]

DEMO_PEOPLE = {
    "en": ["Alice Walker", "Ben Okafor", "Chloe Smith"],
    "es": ["Lucía García", "Mateo Fernández", "Sofía Martínez"],
    "fr": ["Camille Dubois", "Hugo Lefèvre", "Léa Moreau"],
    "de": ["Jonas Müller", "Anna Schmidt", "Lukas Weber"],
}


DEMO_EVENT = {
    "en": {
        "title": "Spring seminar on workers' rights",
        "summary": "A day of talks and workshops. Please register by the deadline.",
        "description": "## Programme\n\n- Welcome\n- Talks\n- Workshops in four languages",
        "place_name": "Union House",
        "place_address": "1 Main Street, Brussels",
    },
    "es": {
        "title": "Seminario de primavera sobre derechos laborales",
        "summary": "Un día de charlas y talleres. Inscríbase antes de la fecha límite.",
        "place_name": "Casa Sindical",
        "place_address": "1 Main Street, Bruselas",
    },
    "fr": {
        "title": "Séminaire de printemps sur les droits des travailleurs",
        "summary": "Une journée de conférences et d’ateliers. Inscrivez-vous avant la date limite.",
        "place_name": "Maison syndicale",
        "place_address": "1 Main Street, Bruxelles",
    },
    "de": {
        "title": "Frühjahrsseminar zu Arbeitsrechten",
        "summary": "Ein Tag mit Vorträgen und Workshops. Bitte melden Sie sich rechtzeitig an.",
        "place_name": "Gewerkschaftshaus",
        "place_address": "1 Main Street, Brüssel",
    },
}

DEMO_WELCOME = {
    "en": (
        "Welcome to our newsletter",
        "Thank you for joining us. Each month we write about "
        "our campaigns, in your language.\n\nYou can change your topics at any time.",
    ),
    "es": (
        "Bienvenida a nuestro boletín",
        "Gracias por unirse. Cada mes le contamos nuestras "
        "campañas, en su idioma.\n\nPuede cambiar sus temas en cualquier momento.",
    ),
    "fr": (
        "Bienvenue dans notre lettre",
        "Merci de nous avoir rejoints. Chaque mois, nous vous "
        "parlons de nos campagnes, dans votre langue.\n\nVous pouvez changer vos sujets à "
        "tout moment.",
    ),
    "de": (
        "Willkommen bei unserem Newsletter",
        "Danke, dass Sie dabei sind. Jeden Monat "
        "berichten wir über unsere Kampagnen, in Ihrer Sprache.\n\nSie können Ihre Themen "
        "jederzeit ändern.",
    ),
}

DEMO_ADMIN = "admin@example.org"


def ensure_demo_admin(credentials_file: Path) -> tuple[str, str] | None:
    """The first admin of a zero-setup start, and its password (kept in ``credentials_file``).

    Created only while there is no account at all; the password is shown on every start
    until the file is deleted.
    """
    if not db.session.execute(db.select(User.id).limit(1)).first():
        password = secrets.token_urlsafe(12)
        create_user(DEMO_ADMIN, password, Role.ADMIN, name="Demo admin")
        db.session.commit()
        credentials_file.write_text(f"{DEMO_ADMIN}\n{password}\n", encoding="utf-8")
        credentials_file.chmod(0o600)
    if not credentials_file.exists():
        return None
    email, password = credentials_file.read_text(encoding="utf-8").split()[:2]
    return email, password


def seed_demo() -> bool:
    """Create the demo data once; return False when lists already exist."""
    if db.session.execute(db.select(MailingList.id).limit(1)).first():
        return False
    lists = [MailingList(public=True, **item) for item in DEMO_LISTS]
    db.session.add_all(lists)
    db.session.flush()
    for position, (language, people) in enumerate(DEMO_PEOPLE.items()):
        for index, name in enumerate(people):
            # Spread over the last weeks, so the dashboard's growth chart has a shape.
            joined = utcnow() - timedelta(days=6 * (3 * position + index))
            handle = name.split()[0].lower().replace("í", "i").replace("é", "e")
            subscriber = Subscriber(
                email=f"{handle}.{language}@example.org",
                name=name,
                language=language,
                status=SubscriberStatus.CONFIRMED,
                created_at=joined,
                confirmed_at=joined,
            )
            subscriber.subscriptions = [
                Subscription(list_id=item.id) for item in lists[: index + 1]
            ]
            db.session.add(subscriber)
    start = (utcnow() + timedelta(days=45)).replace(hour=8, minute=0, second=0, microsecond=0)
    events.save_event(
        None,
        events.EventTimes(
            start, start + timedelta(hours=8), "Europe/Brussels", start - timedelta(days=7)
        ),
        DEMO_EVENT,
        capacity=40,
        waiting_list=True,
        published=True,
        questions={"organisation": "optional", "country": "required", "dietary": "optional"},
    )
    welcome = campaigns.create_issue("Welcome", "en", {lists[0].id})
    campaigns.set_automation(welcome, 0)
    for language, (subject, body) in DEMO_WELCOME.items():
        campaigns.set_variant(welcome, language, subject, body)
    campaigns.start_sending(welcome)  # each new subscriber of the newsletter gets it
    db.session.commit()
    return True
