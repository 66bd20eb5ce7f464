"""Load for the HTTP benchmarks: gunicorn started and stopped, and a load generator of
keep-alive connections (Python over two processes, or ``wrk`` when it is installed) that
measures requests per second and answer times (tracking.py, public_pages.py)."""

import http.client
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

USER_AGENT = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) benchmark"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, workers: int, env: dict, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise SystemExit(f"gunicorn {target} did not start")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _client(port, make_request, prepare, seconds, threads, process_index, queue) -> None:
    """One load process: ``threads`` keep-alive connections, each asking what
    ``make_request(state, n)`` says (method, path, body, headers) until time is up."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        state = prepare(connection) if prepare else None
        mine = []
        n = 0
        while time.monotonic() < stop_at:
            method, path, body, headers = make_request(state, f"{process_index}-{index}-{n}")
            n += 1
            start = time.perf_counter()
            connection.request(method, path, body=body, headers={**USER_AGENT, **headers})
            response = connection.getresponse()
            response.read()
            mine.append((response.status, time.perf_counter() - start))
        connection.close()
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(results)


def load(port: int, make_request, seconds: float, connections: int, prepare=None) -> dict:
    """Requests per second, median and p99 answer times (ms) and the statuses seen, with
    ``connections`` connections over two processes (forked: the callables are not pickled).

    ``prepare(connection)``, if given, runs once per connection before the clock starts
    (a form's cookie and token) and its result is the ``state`` ``make_request`` gets."""
    queue = multiprocessing.get_context("fork").Queue()
    processes = [
        multiprocessing.get_context("fork").Process(
            target=_client,
            args=(port, make_request, prepare, seconds, connections // 2, index, queue),
        )
        for index in range(2)
    ]
    for process in processes:
        process.start()
    results = [item for _ in processes for item in queue.get()]
    for process in processes:
        process.join()
    times = sorted(elapsed * 1000 for _status, elapsed in results)
    return {
        "rate": len(results) / seconds,
        "median": statistics.median(times),
        "p99": times[int(len(times) * 0.99) - 1],
        "count": len(results),
        "accepted": sum(1 for status, _elapsed in results if status < 400),
        "statuses": {status for status, _elapsed in results},
    }


def show(name: str, figures: dict, baseline: dict | None = None, width: int = 28) -> None:
    ratio = f"   {figures['rate'] / baseline['rate']:.2f} of the trivial app" if baseline else ""
    print(
        f"  {name:<{width}} {figures['rate']:8,.0f} req/s   median {figures['median']:6.2f} ms"
        f"   p99 {figures['p99']:6.2f} ms   answers {sorted(figures['statuses'])}{ratio}"
    )


WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port: int, path: str, seconds: float, connections: int, script: str = "") -> dict:
    """The same figures from ``wrk`` (C, two threads), which leaves the CPUs to the server
    far more than the Python generator; ``script`` is Lua defining ``request()``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    try:
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        command += ["-H", f"User-Agent: {USER_AGENT['User-Agent']}"]
        if script:
            command += ["-s", lua.name]
        output = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    count = int(re.search(r"(\d+) requests in", output)[1])
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    refused = int(refused[1]) if refused else 0
    latency = {int(p): float(v) * UNITS[u] for p, v, u in WRK_LATENCY.findall(output)}
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "median": latency[50],
        "p99": latency[99],
        "count": count,
        "accepted": count - refused,
        "statuses": {"2xx/3xx"} if not refused else {"2xx/3xx", f"{refused} others"},
    }
