"""Demo lists and subscribers for the zero-setup start."""

from .extensions import db
from .models import MailingList, Subscriber, SubscriberStatus, Subscription, utcnow

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


def seed_demo() -> bool:
    """Create the demo data once; return False when lists already exist."""
    if db.session.execute(db.select(MailingList.id).limit(1)).first():
        return False
    lists = [MailingList(public=True, **item) for item in DEMO_LISTS]
    db.session.add_all(lists)
    db.session.flush()
    for language, people in DEMO_PEOPLE.items():
        for index, name in enumerate(people):
            handle = name.split()[0].lower().replace("í", "i").replace("é", "e")
            subscriber = Subscriber(
                email=f"{handle}.{language}@example.org",
                name=name,
                language=language,
                status=SubscriberStatus.CONFIRMED,
                confirmed_at=utcnow(),
            )
            subscriber.subscriptions = [
                Subscription(list_id=item.id) for item in lists[: index + 1]
            ]
            db.session.add(subscriber)
    db.session.commit()
    return True
