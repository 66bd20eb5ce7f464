"""Campaign delivery benchmark: real Celery workers, PostgreSQL, Redis and an SMTP sink.

For each audience size N it builds a scratch database with the app's migrations, seeds N
confirmed subscribers, writes a four-language issue, measures the sink's raw ceiling with
plain smtplib loops (one command per round trip, and pipelined: each message's content
in one write with the next envelope), then sends the issue through ``celery -A worker
worker`` processes and reports the end-to-end rate, time to first message and peak worker
memory. Everything it starts (workers, sink, database, Redis keys, temporary folders) is
removed at the end.

    /tmp/venv/bin/python benchmarks/delivery.py [--sizes 10000,100000] [--workers 2]

With ``--attachment`` each N runs twice in the same session, without and then with a 1 MB
PDF attached to every variant, and the report compares the two rates; ``--dkim`` runs it
again signed with RSA-2048 and with Ed25519.
"""

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
from flask_migrate import upgrade

from newsletter import attachments, campaigns, create_app
from newsletter.config import from_environment
from newsletter.delivery import prepared_variant
from newsletter.extensions import db
from newsletter.links import external_url
from newsletter.mail.issue_mail import Recipient, personalize
from newsletter.mail.signing import sign
from newsletter.models import Issue
from newsletter.tasks import dispatch_delivery

ROOT = Path(__file__).resolve().parent.parent
SMTP_SINK = Path("/usr/sbin/smtp-sink")
POLL_SECONDS = 0.2
TARGET_RATE = 1000
TARGET_RATIO = 0.85  # of the better raw ceiling, plain or pipelined
TARGET_RSS_MB = 200
TARGET_DKIM_RATIO = 0.7
TARGET_LEDGER_ROWS = 200_000  # ledger rows written per second on PostgreSQL
ATTACHMENT_BYTES = 1_000_000

BODIES = {
    "en": (
        "Monthly digest: what changed in March",
        "Three new features, one fix you asked for, and a date for your diary.",
        """Spring has reached the office, and with it a handful of changes we have been working on
since the winter. This issue covers what is new, what we fixed, and what comes next.

## What is new

- **Shared folders** can now be opened by anyone with the link, with or without an account.
- **Offline mode** keeps your last thirty documents on the device and syncs them when you
  are back online.
- **Exports** to PDF keep the table of contents and the links between chapters.

## What we fixed

Several of you wrote to say that search ignored accented letters. It no longer does:
searching for *cafe* now finds *café*, and the other way round. Thank you for the detailed
reports; they made the fix quick.

## Coming next

We will hold an open call on the 14th at 17:00 CET to walk through the new sharing
options and answer questions. [Reserve a place](https://example.org/events/march-call) or
reply to this email with what you would like us to cover.

Until then, thank you for reading, and for telling us what works and what does not.

*The product team*
""",
    ),
    "es": (
        "Resumen mensual: novedades de marzo",
        "Tres funciones nuevas, una corrección que nos pidió y una fecha para su agenda.",
        """La primavera ha llegado a la oficina y, con ella, varios cambios en los que hemos
trabajado desde el invierno. Este número resume las novedades, lo que hemos corregido y lo
que viene.

## Novedades

- **Las carpetas compartidas** se pueden abrir con el enlace, con o sin cuenta.
- **El modo sin conexión** guarda sus últimos treinta documentos en el dispositivo y los
  sincroniza cuando vuelve a tener conexión.
- **La exportación** a PDF conserva el índice y los enlaces entre capítulos.

## Correcciones

Varios de ustedes nos escribieron porque la búsqueda ignoraba los acentos. Ya no ocurre:
al buscar *cafe* ahora aparece *café*, y al revés. Gracias por sus informes detallados;
gracias a ellos la corrección fue rápida.

## Próximamente

Celebraremos una sesión abierta el día 14 a las 17:00 CET para presentar las nuevas
opciones para compartir y responder a sus preguntas.
[Reserve su plaza](https://example.org/events/march-call) o responda a este correo con los
temas que le gustaría tratar.

Hasta entonces, gracias por leernos y por contarnos qué funciona y qué no.

*El equipo de producto*
""",
    ),
    "fr": (
        "Lettre mensuelle : les nouveautés de mars",
        "Trois nouveautés, une correction que vous attendiez et une date à retenir.",
        """Le printemps est arrivé au bureau, et avec lui plusieurs changements préparés depuis
l'hiver. Ce numéro présente les nouveautés, les corrections et la suite.

## Nouveautés

- **Les dossiers partagés** s'ouvrent désormais avec le lien, avec ou sans compte.
- **Le mode hors ligne** conserve vos trente derniers documents sur l'appareil et les
  synchronise dès que vous retrouvez une connexion.
- **L'export** en PDF conserve la table des matières et les liens entre chapitres.

## Corrections

Plusieurs d'entre vous nous ont signalé que la recherche ignorait les accents. Ce n'est
plus le cas : chercher *cafe* trouve maintenant *café*, et inversement. Merci pour vos
signalements détaillés, qui ont rendu la correction rapide.

## À venir

Nous organiserons une séance ouverte le 14 à 17 h (CET) pour présenter les nouvelles
options de partage et répondre à vos questions.
[Réservez votre place](https://example.org/events/march-call) ou répondez à ce message
pour nous dire ce que vous aimeriez aborder.

D'ici là, merci de votre lecture et de vos retours, positifs comme négatifs.

*L'équipe produit*
""",
    ),
    "de": (
        "Monatsrückblick: Neuigkeiten im März",
        "Drei neue Funktionen, eine gewünschte Korrektur und ein Termin für Ihren Kalender.",
        """Der Frühling ist im Büro angekommen und mit ihm einige Änderungen, an denen wir seit dem
Winter gearbeitet haben. Diese Ausgabe zeigt, was neu ist, was wir behoben haben und was
als Nächstes kommt.

## Neu

- **Geteilte Ordner** lassen sich jetzt über den Link öffnen, mit oder ohne Konto.
- **Der Offline-Modus** behält Ihre letzten dreißig Dokumente auf dem Gerät und
  synchronisiert sie, sobald Sie wieder online sind.
- **Der PDF-Export** übernimmt das Inhaltsverzeichnis und die Verweise zwischen Kapiteln.

## Behoben

Mehrere von Ihnen haben uns geschrieben, dass die Suche Akzente ignorierte. Das ist
vorbei: Die Suche nach *cafe* findet jetzt auch *café* und umgekehrt. Vielen Dank für Ihre
ausführlichen Meldungen; sie haben die Korrektur sehr erleichtert.

## Demnächst

Am 14. um 17:00 Uhr MEZ stellen wir in einer offenen Sitzung die neuen Freigabeoptionen
vor und beantworten Ihre Fragen.
[Reservieren Sie einen Platz](https://example.org/events/march-call) oder antworten
Sie auf diese E-Mail mit den Themen, die Sie interessieren.

Bis dahin danken wir Ihnen fürs Lesen und für Ihre Rückmeldungen.

*Ihr Produktteam*
""",
    ),
}


class Interrupted(Exception):
    """SIGTERM arrived: unwind and clean up as for Ctrl-C."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_process_group(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the group we started (start_new_session=True), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- SMTP sink ---------------------------------------------------------------------------


@dataclass
class Sink:
    kind: str
    port: int
    process: subprocess.Popen
    output: Path

    def received(self) -> int | None:
        """Messages the sink accepted so far (smtp-sink -c only)."""
        if self.kind != "smtp-sink":
            return None
        counts = re.findall(rb"mesg=(\d+)", self.output.read_bytes()[-200:])
        return int(counts[-1]) if counts else 0


@contextlib.contextmanager
def smtp_sink(folder: Path, wait_seconds: float, force_aiosmtpd: bool):
    port = free_port()
    output = folder / "sink.out"
    if not force_aiosmtpd and not SMTP_SINK.exists() and wait_seconds > 0:
        log(f"waiting up to {wait_seconds:.0f} s for {SMTP_SINK} (postfix being installed)")
        with contextlib.suppress(RuntimeError):
            wait_for(SMTP_SINK.exists, wait_seconds, str(SMTP_SINK), interval=2)
    if SMTP_SINK.exists() and not force_aiosmtpd:
        # -c prints running counters, used to check that exactly N messages arrived.
        command = [str(SMTP_SINK), "-c", "-u", "root", f"127.0.0.1:{port}", "1000"]
        kind = "smtp-sink"
    else:
        log(
            "WARNING: Postfix's smtp-sink is not available; falling back to aiosmtpd, which "
            "tops out near 270 msg/s. All figures below are then bound by the sink, not the app."
        )
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        command += ["-c", "aiosmtpd.handlers.Sink"]
        kind = "aiosmtpd"
    with output.open("wb") as sink_output:
        process = subprocess.Popen(
            command, stdout=sink_output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def accepting() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited: {output.read_text(errors='replace')}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(accepting, 15, f"{kind} on port {port}")
        yield Sink(kind, port, process, output)
    finally:
        stop_process_group(process, grace=5)


def _send_raw(port: int, message: bytes, count: int, barrier, results, pipelined: bool) -> None:
    connection = smtplib.SMTP("127.0.0.1", port)
    connection.sendmail("news@example.org", ["warmup@example.org"], message)
    stuffed = message.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    barrier.wait()
    start = time.time()
    if pipelined:
        # RFC 2920, as the workers send: each message's content in the same write as the
        # next envelope (MAIL, RCPT, DATA), their replies read in order; one round trip each.
        def envelope(number: int) -> bytes:
            return (
                f"MAIL FROM:<news@example.org>\r\nRCPT TO:<raw{number}@example.org>\r\nDATA\r\n"
            ).encode()

        connection.send(envelope(0))
        replies = [connection.getreply()[0] for _ in range(3)]
        assert replies == [250, 250, 354], replies
        for number in range(count):
            last = number == count - 1
            connection.send(stuffed if last else stuffed + envelope(number + 1))
            replies = [connection.getreply()[0] for _ in range(1 if last else 4)]
            assert replies == ([250] if last else [250, 250, 250, 354]), replies
    else:
        for number in range(count):
            connection.sendmail("news@example.org", [f"raw{number}@example.org"], message)
    results.put((start, time.time()))
    connection.quit()


def raw_ceiling(
    port: int, message: bytes, processes: int, per_process: int, pipelined: bool = False
) -> float:
    """Messages per second the sink takes from plain smtplib loops, one connection each;
    ``pipelined``: the same loops sending each message with the next envelope (RFC 2920)."""
    # Spawn, not fork: a forked child would share this process's Redis and database sockets.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    senders = [
        context.Process(
            target=_send_raw,
            args=(port, message, per_process, barrier, results, pipelined),
            daemon=True,
        )
        for _ in range(processes)
    ]
    for sender in senders:
        sender.start()
    try:
        spans = [results.get(timeout=600) for _ in senders]
    except BaseException:
        for sender in senders:
            sender.kill()
        raise
    finally:
        for sender in senders:
            sender.join(timeout=30)
    start = min(begin for begin, _ in spans)
    end = max(finish for _, finish in spans)
    return processes * per_process / (end - start)


# --- Database ----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(server: str, name: str):
    """Yield the SQLAlchemy URL of a new, empty database; drop it afterwards."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{server.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SEED_LIST = """
INSERT INTO mailing_list (slug, names, descriptions, public, created_at)
VALUES ('monthly', %s::json, '{}'::json, true, timezone('utc', now()))
RETURNING id
"""
# Unique emails and tokens; one in five readers has no name; names are partly non-ASCII.
SEED_SUBSCRIBERS = """
INSERT INTO subscriber (email, name, language, status, token, confirmed_at,
                        created_at, updated_at)
SELECT 'reader' || g || '@example.org',
       CASE WHEN g %% 5 = 0 THEN NULL
            ELSE (ARRAY['Ana', 'Jürgen', 'Zoë', 'Amélie', 'John', 'María', 'Léa'])[1 + g %% 7]
                 || ' ' || (ARRAY['García', 'Müller', 'Dubois', 'Smith', 'Núñez'])[1 + g / 7 %% 5]
       END,
       (ARRAY['en', 'es', 'fr', 'de'])[1 + g %% 4],
       'confirmed',
       md5(random()::text) || g,
       timezone('utc', now()), timezone('utc', now()), timezone('utc', now())
FROM generate_series(1, %s) AS g
"""
SEED_SUBSCRIPTIONS = """
INSERT INTO subscription (subscriber_id, list_id, created_at)
SELECT id, %s, created_at FROM subscriber
"""


def seed_subscribers(dsn: str, count: int) -> int:
    """N confirmed subscribers on one list, in SQL; return the list's id."""
    names = '{"en": "Monthly", "es": "Mensual", "fr": "Mensuel", "de": "Monatlich"}'
    with psycopg.connect(dsn) as conn:
        list_id = conn.execute(SEED_LIST, (names,)).fetchone()[0]
        conn.execute(SEED_SUBSCRIBERS, (count,))
        conn.execute(SEED_SUBSCRIPTIONS, (list_id,))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE subscriber")
        conn.execute("ANALYZE subscription")
    return list_id


def sample_pdf(size: int) -> bytes:
    """``size`` bytes that start as a PDF and don't compress (as a scanned form doesn't)."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    body, counter = bytearray(), 0
    while len(body) < size - len(head) - len(tail):
        body += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return head + bytes(body[: size - len(head) - len(tail)]) + tail


def write_issue(list_id: int, attachment: bytes | None = None) -> int:
    """The issue in four languages, through the app's own campaign functions; with
    ``attachment``, a PDF attached to every variant."""
    issue = campaigns.create_issue("March digest", "en", {list_id})
    for language, (subject, preheader, body) in BODIES.items():
        campaigns.set_variant(issue, language, subject, body, preheader)
        if attachment:
            attachments.add_attachment(issue, language, f"programme-{language}.pdf", attachment)
    db.session.commit()
    return issue.id


def sample_message(issue_id: int) -> bytes:
    """One recipient's finished message, built (and DKIM-signed if on) like the workers'."""
    issue = db.session.get(Issue, issue_id)
    prepared = prepared_variant(issue, "en")
    token = "0123456789abcdef0123456789abcdef1"
    links = {
        name: external_url(f"public.{name.removesuffix('_url')}", lang="en", token=token)
        for name in ("unsubscribe_url", "preferences_url")
    }
    recipient = Recipient("reader1@example.org", "Jürgen Müller", token, "<1.1.x@example.org>")
    return sign(personalize(prepared, recipient, links))


# --- Celery workers ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log_path: Path
    idle_rss: float = 0.0
    peak_rss: float = 0.0
    cpu_start: float = 0.0
    cpu_end: float = 0.0

    def sample(self) -> None:
        current = rss_mb(self.process.pid)
        if current is not None:
            self.peak_rss = max(self.peak_rss, current)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def celery_workers(env: dict[str, str], count: int, run_id: str, folder: Path, celery_app):
    workers: list[Worker] = []
    try:
        for number in range(1, count + 1):
            name = f"bench{number}-{run_id}"
            log_path = folder / f"{name}.log"
            command = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker",
                "worker",
                "-n",
                f"{name}@%h",
                "-Q",
                f"{env['DELIVERY_QUEUE']},{env['CELERY_QUEUE']}",
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ]
            with log_path.open("wb") as output:
                process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            workers.append(Worker(name, process, log_path))
        wait_ready(workers, celery_app)
        for worker in workers:
            worker.idle_rss = worker.peak_rss = rss_mb(worker.process.pid) or 0.0
            worker.cpu_start = cpu_seconds(worker.process.pid)
        yield workers
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in workers:
            stop_process_group(worker.process)


def wait_ready(workers: list[Worker], celery_app, timeout: float = 90) -> None:
    """Until every worker answers a ping (it then consumes its queues)."""
    waiting = {worker.name for worker in workers}
    deadline = time.monotonic() + timeout
    while waiting:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {timeout} s: {sorted(waiting)}")
        for reply in celery_app.control.ping(timeout=1.0):
            for hostname in reply:
                waiting.discard(hostname.partition("@")[0])


def remove_redis_keys(url: str, markers: list[str]) -> None:
    """Delete this run's queues and bindings, leaving everything else on the Redis db."""
    client = redis.Redis.from_url(url)
    for marker in markers:
        for key in client.scan_iter(f"*{marker}*"):
            client.delete(key)
    for key in client.scan_iter("_kombu.binding.*"):
        stale = [m for m in client.smembers(key) if any(x.encode() in m for x in markers)]
        if stale:
            client.srem(key, *stale)
    client.close()


# --- One campaign ------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    workers: int
    attachment_bytes: int = 0
    dkim: str = ""  # "rsa" or "ed25519" when every message is signed
    message_bytes: int = 0
    seed_seconds: float = 0.0
    ledger_seconds: float = 0.0  # the request that starts the campaign (first chunk)
    ledger_ready_seconds: float = 0.0  # from "Send" until the whole ledger is written
    raw_rate: float = 0.0
    raw_rounds: list[float] = field(default_factory=list)
    raw_pipelined_rate: float = 0.0
    raw_pipelined_rounds: list[float] = field(default_factory=list)
    worker_cpu_ms: float = 0.0  # worker CPU time per message, all workers together
    machine_busy: float = 0.0  # share of all CPUs busy while the campaign ran
    first_message: float = 0.0
    total_seconds: float = 0.0
    idle_rss: list[float] = field(default_factory=list)
    peak_rss: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.size / self.total_seconds

    @property
    def ceiling(self) -> float:
        """The better of the two raw ceilings: the ratio is measured against it."""
        return max(self.raw_rate, self.raw_pipelined_rate)

    @property
    def ratio(self) -> float:
        return self.rate / self.ceiling


def dispose_engine(app) -> None:
    with app.app_context():
        db.engine.dispose()


def timestamp(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=UTC).timestamp()


def run_campaign(
    size: int, args, sink: Sink, attachment: bytes | None = None, dkim: str = ""
) -> Result:
    run_id = uuid.uuid4().hex[:8]
    result = Result(
        size=size, workers=args.workers, attachment_bytes=len(attachment or b""), dkim=dkim
    )
    with contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{run_id}-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        database = f"newsletter_bench_{run_id}"
        url = stack.enter_context(scratch_database(args.postgres, database))
        dsn = f"{args.postgres}/{database}"
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": url,
                "REDIS_URL": args.redis,
                "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
                "INSTANCE_PATH": str(folder / "instance"),
                "BASE_URL": "https://news.example.org",
                "MAIL_FROM": "Example News <news@example.org>",
                "CELERY_QUEUE": f"bench-{run_id}",
                "DELIVERY_QUEUE": f"bench-{run_id}-delivery",
                "DELIVERY_TASKS": str(args.tasks or args.workers),
                "SEND_RATE_PER_SECOND": "0",
                "SEND_RATE_PER_HOUR": "0",
            }
        )
        if args.batch_size:
            env["DELIVERY_BATCH_SIZE"] = str(args.batch_size)
        if dkim:
            key = folder / "dkim.pem"
            generate = {
                "rsa": ["openssl", "genrsa", "-out", key, "2048"],
                "ed25519": ["openssl", "genpkey", "-algorithm", "ed25519", "-out", key],
            }[dkim]
            subprocess.run(generate, check=True, capture_output=True)
            env.update({"DKIM_SELECTOR": "bench", "DKIM_KEY_FILE": str(key)})
        app = create_app(from_environment(env))
        celery_app = app.extensions["celery"]
        markers = [run_id, celery_app.control.mailbox.oid]
        stack.callback(remove_redis_keys, args.redis, markers)

        with app.app_context():
            upgrade()
            stack.callback(dispose_engine, app)
            began = time.perf_counter()
            list_id = seed_subscribers(dsn, size)
            result.seed_seconds = time.perf_counter() - began
            log(f"N={size}: seeded subscribers in {result.seed_seconds:.1f} s")
            issue_id = write_issue(list_id, attachment)
            message = sample_message(issue_id)
            result.message_bytes = len(message)
        # A message with the attachment is ~70 times larger: fewer raw messages, as many bytes.
        raw_messages = max(50, args.raw_messages // 50) if attachment else args.raw_messages

        # Raw rounds before and after the campaign, so the ceiling brackets it in time (this
        # machine's capacity drifts); the best round counts.
        rounds_before = (args.raw_rounds + 1) // 2
        before_raw = sink.received()
        measure_raw(result, sink, message, rounds_before, raw_messages, args)

        log(f"N={size}: starting {args.workers} Celery workers")
        workers = stack.enter_context(celery_workers(env, args.workers, run_id, folder, celery_app))
        before_campaign = sink.received()
        raw_sent = 2 * rounds_before * args.workers * (raw_messages + 1)
        if before_raw is not None and before_campaign - before_raw != raw_sent:
            result.problems.append("sink count after the raw run is off")

        with app.app_context():
            busy_start, total_start = machine_cpu()
            t0 = time.time()
            issue = db.session.get(Issue, issue_id)
            ledger = campaigns.start_sending(issue)
            db.session.commit()
            result.ledger_seconds = time.time() - t0
            dispatch_delivery(issue_id)
            db.session.remove()
        if ledger != size:
            result.problems.append(f"ledger has {ledger} rows, expected {size}")

        finished_at = watch(dsn, issue_id, workers, sink, size, before_campaign, args)
        busy_end, total_end = machine_cpu()
        result.machine_busy = (busy_end - busy_start) / (total_end - total_start)
        for worker in workers:
            worker.cpu_end = cpu_seconds(worker.process.pid)
        worker_cpu = sum(worker.cpu_end - worker.cpu_start for worker in workers)
        result.worker_cpu_ms = worker_cpu / size * 1000
        result.total_seconds = timestamp(finished_at) - t0
        result.idle_rss = [worker.idle_rss for worker in workers]
        result.peak_rss = [worker.peak_rss for worker in workers]
        with psycopg.connect(dsn) as conn:
            first = conn.execute(
                "SELECT min(sent_at) FROM delivery WHERE issue_id = %s", (issue_id,)
            ).fetchone()[0]
            result.first_message = timestamp(first) - t0
            ready = conn.execute(
                "SELECT ledger_ready_at FROM issue WHERE id = %s", (issue_id,)
            ).fetchone()[0]
            result.ledger_ready_seconds = timestamp(ready) - t0
            result.problems += verify_ledger(conn, issue_id, size)
        rounds_after = args.raw_rounds - rounds_before
        measure_raw(result, sink, message, rounds_after, raw_messages, args)
        result.raw_rate = max(result.raw_rounds)
        result.raw_pipelined_rate = max(result.raw_pipelined_rounds)
    # The workers have stopped (every SMTP session ended with QUIT): the sink's count is final.
    received = sink.received()
    if received is not None:
        received -= before_campaign + 2 * rounds_after * args.workers * (raw_messages + 1)
        if received != size:
            result.problems.append(f"sink received {received} campaign messages, not {size}")
    return result


def measure_raw(result: Result, sink: Sink, message: bytes, rounds: int, count: int, args):
    """Rounds of the raw ceiling, each one plain and one pipelined, into ``result``."""
    if rounds:
        log(f"N={result.size}: raw ceiling, {rounds} x 2 x {args.workers} senders x {count}")
    for _ in range(rounds):
        result.raw_rounds.append(raw_ceiling(sink.port, message, args.workers, count))
        result.raw_pipelined_rounds.append(
            raw_ceiling(sink.port, message, args.workers, count, pipelined=True)
        )


def watch(dsn, issue_id, workers, sink, size, sink_start, args) -> datetime:
    """Poll the issue every 0.2 s, sampling worker memory, until it is sent."""
    deadline = time.monotonic() + args.timeout + size / 50
    next_report = time.monotonic() + 5
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            for worker in workers:
                worker.sample()
                if worker.process.poll() is not None:
                    raise RuntimeError(f"worker {worker.name} died:\n{worker.tail()}")
            status, finished_at = conn.execute(
                "SELECT status, finished_at FROM issue WHERE id = %s", (issue_id,)
            ).fetchone()
            if status == "sent":
                return finished_at
            if status != "sending":
                raise RuntimeError(f"issue became {status!r}")
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"issue not sent before the timeout:\n{workers[0].tail()}")
            if now >= next_report:
                received = sink.received()
                done = f"{received - sink_start}/{size} received" if received is not None else ""
                rss = ", ".join(f"{worker.peak_rss:.0f}" for worker in workers)
                log(f"N={size}: sending… {done}; peak RSS MB {rss}")
                next_report = now + 5
            time.sleep(POLL_SECONDS)


def verify_ledger(conn, issue_id: int, size: int) -> list[str]:
    rows = conn.execute(
        "SELECT state, count(*), count(DISTINCT subscriber_id), max(attempts) "
        "FROM delivery WHERE issue_id = %s GROUP BY state",
        (issue_id,),
    ).fetchall()
    problems = []
    states = {state: (count, distinct, attempts) for state, count, distinct, attempts in rows}
    sent, distinct, attempts = states.pop("sent", (0, 0, 0))
    if sent != size or distinct != size:
        problems.append(f"{sent} rows sent ({distinct} subscribers), expected {size}")
    if attempts and attempts > 1:
        problems.append(f"some rows took {attempts} attempts (sent more than once)")
    if states:
        problems.append(f"rows in other states: {states}")
    return problems


# --- Report ------------------------------------------------------------------------------


def print_report(results: list[Result], args, sink: Sink) -> None:
    batch = args.batch_size or from_environment()["DELIVERY_BATCH_SIZE"]
    print()
    print(
        f"Campaign delivery: {args.workers} Celery workers (--pool solo), "
        f"DELIVERY_TASKS={args.tasks or args.workers}, DELIVERY_BATCH_SIZE={batch}, "
        f"sink {sink.kind}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if sink.kind != "smtp-sink":
        print("WARNING: aiosmtpd sink: the figures are bound by the sink, not the app.")
    header = (
        f"{'N':>8} | {'DKIM':>7} | {'attached':>8} | {'end-to-end':>10} | {'raw ceiling':>11} | "
        f"{'ratio':>5} | {'first msg':>9} | {'peak RSS':>8} | {'idle RSS':>8} | {'total':>7} | "
        f"{'msg size':>8} | ledger"
    )
    units = (
        f"{'':>8} | {'':>7} | {'bytes':>8} | {'msg/s':>10} | {'msg/s':>11} | {'':>5} | {'s':>9} | "
        f"{'MB':>8} | "
        f"{'MB':>8} | {'s':>7} | {'bytes':>8} |"
    )
    print(header)
    print(units)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.size:>8,} | {r.dkim or 'off':>7} | {r.attachment_bytes:>8,} | {r.rate:>10,.0f} | "
            f"{r.ceiling:>11,.0f} | {r.ratio:>5.2f} | "
            f"{r.first_message:>9.2f} | {max(r.peak_rss):>8.1f} | {max(r.idle_rss):>8.1f} | "
            f"{r.total_seconds:>7.1f} | {r.message_bytes:>8,} | "
            f"{'ok' if not r.problems else 'PROBLEM'}"
        )
    print()
    for r in results:
        peaks = ", ".join(f"{value:.1f}" for value in r.peak_rss)
        rounds = ", ".join(f"{value:,.0f}" for value in r.raw_rounds)
        pipelined = ", ".join(f"{value:,.0f}" for value in r.raw_pipelined_rounds)
        attached = f" with {r.attachment_bytes:,} bytes attached" if r.attachment_bytes else ""
        attached += f", signed {r.dkim}" if r.dkim else ""
        print(
            f"N={r.size:,}{attached}: peak RSS per worker MB [{peaks}]; "
            f"raw rounds msg/s plain [{rounds}], pipelined [{pipelined}]; "
            f"worker CPU {r.worker_cpu_ms:.2f} ms/msg; all CPUs {r.machine_busy:.0%} busy; "
            f"start request {r.ledger_seconds:.2f} s, ledger complete after "
            f"{r.ledger_ready_seconds:.2f} s ({r.size / r.ledger_ready_seconds:,.0f} rows/s, "
            f"while sending); seeding {r.seed_seconds:.1f} s"
        )
        for problem in r.problems:
            print(f"  PROBLEM: {problem}")
    compare_attachment(results)
    compare_dkim(results)
    print()
    print("Targets (runs without attachment or signature):")
    for r in (r for r in results if not r.attachment_bytes and not r.dkim):
        checks = [
            (f"end-to-end >= {TARGET_RATE:,} msg/s", r.rate >= TARGET_RATE),
            (f">= {TARGET_RATIO:.0%} of the better raw ceiling", r.ratio >= TARGET_RATIO),
            (f"worker RSS < {TARGET_RSS_MB} MB", max(r.peak_rss) < TARGET_RSS_MB),
            (
                f"ledger >= {TARGET_LEDGER_ROWS:,} rows/s",
                r.size / r.ledger_ready_seconds >= TARGET_LEDGER_ROWS,
            ),
        ]
        marks = "; ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in checks)
        print(f"  N={r.size:,}: {marks}")
    plain = [r for r in results if not r.attachment_bytes and not r.dkim]
    if len(plain) > 1:
        low, high = plain[0], plain[-1]
        growth = max(high.peak_rss) - max(low.peak_rss)
        print(
            f"  RSS growth from N={low.size:,} to N={high.size:,}: {growth:+.1f} MB "
            f"({'flat' if abs(growth) < 10 else 'NOT flat'}, threshold 10 MB)"
        )


def compare_dkim(results: list[Result]) -> None:
    """Each N's signed rates next to the same session's unsigned rate, against the target."""
    unsigned = {r.size: r for r in results if not r.dkim and not r.attachment_bytes}
    signed = [r for r in results if r.dkim and r.size in unsigned]
    if not signed:
        return
    print()
    print(f"Signed and unsigned (same session; target: signed >= {TARGET_DKIM_RATIO} of unsigned):")
    for r in signed:
        plain = unsigned[r.size]
        ratio = r.rate / plain.rate
        print(
            f"  N={r.size:,} {r.dkim}: unsigned {plain.rate:,.0f} msg/s "
            f"({plain.worker_cpu_ms:.2f} ms worker CPU a message), signed {r.rate:,.0f} msg/s "
            f"({r.worker_cpu_ms:.2f} ms); ratio {ratio:.2f}: "
            f"{'PASS' if ratio >= TARGET_DKIM_RATIO else 'FAIL'}"
        )


def compare_attachment(results: list[Result]) -> None:
    """Each N's rate with the attachment next to the same session's rate without it."""
    unsigned = {r.size: r for r in results if not r.dkim and not r.attachment_bytes}
    pairs = [(unsigned[r.size], r) for r in results if r.attachment_bytes and r.size in unsigned]
    if not pairs:
        return
    print()
    print("With and without the attachment (same session):")
    for plain, attached in pairs:
        print(
            f"  N={plain.size:,}: without {plain.rate:,.0f} msg/s "
            f"({plain.message_bytes:,} bytes a message), with {attached.rate:,.0f} msg/s "
            f"({attached.message_bytes:,} bytes); ratio {attached.rate / plain.rate:.2f}; "
            f"MB/s to the sink {plain.rate * plain.message_bytes / 1e6:,.1f} -> "
            f"{attached.rate * attached.message_bytes / 1e6:,.1f}; raw ceiling ratio "
            f"{attached.ceiling / plain.ceiling:.2f}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="audience sizes, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--tasks", type=int, default=0, help="DELIVERY_TASKS (default: workers)")
    parser.add_argument("--batch-size", type=int, default=0, help="DELIVERY_BATCH_SIZE")
    parser.add_argument(
        "--raw-messages", type=int, default=5000, help="raw ceiling: messages per process"
    )
    parser.add_argument(
        "--raw-rounds",
        type=int,
        default=2,
        help="raw ceiling: rounds, split before and after the campaign (the best one counts)",
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--timeout", type=float, default=120, help="seconds, plus N / 50")
    parser.add_argument(
        "--wait-for-sink", type=float, default=600, help="seconds to wait for smtp-sink"
    )
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="run each N again signed with RSA-2048 and with Ed25519, and compare",
    )
    parser.add_argument("--aiosmtpd", action="store_true", help="use aiosmtpd as the sink")
    parser.add_argument(
        "--attachment",
        action="store_true",
        help="run each N again with a 1 MB PDF attached to every variant and compare",
    )
    args = parser.parse_args()
    args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    return args


def main() -> int:
    args = parse_args()

    def terminate(_signum, _frame):
        raise Interrupted

    signal.signal(signal.SIGTERM, terminate)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as folder:
        try:
            with smtp_sink(Path(folder), args.wait_for_sink, args.aiosmtpd) as sink:
                log(f"sink: {sink.kind} on 127.0.0.1:{sink.port}")
                for size in args.sizes:
                    results.append(run_campaign(size, args, sink))
                    if args.dkim:
                        for algorithm in ("rsa", "ed25519"):
                            results.append(run_campaign(size, args, sink, dkim=algorithm))
                    if args.attachment:
                        pdf = sample_pdf(ATTACHMENT_BYTES)
                        results.append(run_campaign(size, args, sink, pdf))
                print_report(results, args, sink)
        except (KeyboardInterrupt, Interrupted):
            log("interrupted; everything started was cleaned up")
            return 130
    return 1 if any(result.problems for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
