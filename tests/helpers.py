"""What tests do through the app as a visitor would: forms with their CSRF token, logging in,
and waiting for the tasks a request queued."""

import collections
import re
import threading
from contextlib import contextmanager

from celery.signals import before_task_publish, task_postrun


class TasksInFlight:
    """Tasks this process published and its worker thread has not finished, by task id.

    A retry is published under the same id, so an id counts once per pending run.
    Campaign tasks go to worker processes (the delivery queue) and are not counted, nor are
    tasks run eagerly: they are finished before ``delay`` returns.
    A task is counted before it is sent: counted after, a quick task could finish first
    and leave its id pending for ever.
    """

    def __init__(self):
        self.pending: collections.Counter[str] = collections.Counter()
        self.changed = threading.Condition()
        before_task_publish.connect(self.published, weak=False)
        task_postrun.connect(self.finished, weak=False)

    def published(self, sender=None, headers=None, routing_key=None, **_kwargs):
        if routing_key and routing_key.endswith("-delivery"):
            return
        with self.changed:
            self.pending[(headers or {}).get("id")] += 1

    def finished(self, task_id=None, **_kwargs):
        with self.changed:
            if self.pending.get(task_id):
                self.pending[task_id] -= 1
                if not self.pending[task_id]:
                    del self.pending[task_id]
            self.changed.notify_all()

    def wait_idle(self, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: not self.pending, timeout):
                stuck = dict(self.pending)
                self.pending.clear()  # blame this test only, not every test after it
                raise AssertionError(f"tasks still running after the test: {stuck}")


TASKS = TasksInFlight()


def tasks_done() -> None:
    """Wait until the tasks this process queued have run: a subscribe is decided in one."""
    TASKS.wait_idle()


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on the page at ``url``, as a browser would send it."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client, email: str, password: str = "correct horse battery"):
    """Log ``client`` in through the login form; returns the response."""
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token}
    )


def markdown_field(page, language: str):
    """The composer's Markdown field for ``language``, shown as an editor who writes
    Markdown shows it: with the rich editor's Source button (the panel must be open)."""
    source = page.get_by_test_id(f"editor-{language}").locator("[data-command=source]")
    if source.get_attribute("aria-pressed") != "true":
        source.click()
    field = page.locator(f"#variant_{language}-body")
    field.wait_for(state="visible")
    return field


RECORD_CSP_VIOLATIONS = (
    "window.violations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@contextmanager
def recording_page(browser, width: int = 1400, height: int = 1000):
    """A browser page that records every Content-Security-Policy violation (``violations``)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    try:
        yield context.new_page()
    finally:
        context.close()


def violations(page) -> list[str]:
    return page.evaluate("window.violations")
