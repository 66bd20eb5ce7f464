"""Real Celery worker processes for the delivery tests, started and killed like in life."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """``celery -A worker worker`` in its own process, consuming the delivery queue."""

    def __init__(self, app, name: str, beat: bool = False, pool: str = "solo", **settings):
        env = dict(os.environ)
        env.update(app.worker_env)
        env.update({key: str(value) for key, value in settings.items()})
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
            env["DELIVERY_QUEUE"],
            "--pool",
            pool,
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        if beat:
            command.append("-B")
        if pool == "prefork":
            command += ["--concurrency", "2"]
        self.output: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if " ready." in line:
                self.ready.set()

    def wait_ready(self, timeout: float = 60) -> "WorkerProcess":
        if not self.ready.wait(timeout):
            self.stop()
            raise AssertionError("worker did not start:\n" + "".join(self.output[-40:]))
        return self

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to finish, acknowledge or clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
