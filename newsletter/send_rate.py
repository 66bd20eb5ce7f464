"""One sending budget (messages per second and per hour) shared by every worker.

With Redis the counters live there, so the budget holds across processes and machines;
without it (the zero-setup default, one worker) they live in the process.
"""

import threading
import time

import redis

# Grant as much of the wanted count as every window still allows, atomically.
GRANT = """
local wanted = tonumber(ARGV[1])
local grant = wanted
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[i * 2])
    local used = tonumber(redis.call('GET', key) or '0')
    grant = math.min(grant, limit - used)
end
if grant <= 0 then return 0 end
for i, key in ipairs(KEYS) do
    redis.call('INCRBY', key, grant)
    redis.call('EXPIRE', key, tonumber(ARGV[i * 2 + 1]))
end
return grant
"""


class SendRateLimiter:
    def __init__(
        self,
        per_second: int,
        per_hour: int,
        redis_url: str | None = None,
        prefix: str = "newsletter:send-rate",
    ):
        self.per_second = per_second
        self.per_hour = per_hour
        self.prefix = prefix
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._grant = self._redis.register_script(GRANT) if self._redis else None
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    def _windows(self, now: float) -> list[tuple[str, int, int]]:
        second = int(now)
        windows = []
        if self.per_second:
            windows.append((f"{self.prefix}:s:{second}", self.per_second, 5))
        if self.per_hour:
            windows.append((f"{self.prefix}:h:{second // 3600}", self.per_hour, 3700))
        return windows

    def try_acquire(self, wanted: int) -> int:
        """How many of ``wanted`` messages may go now (0 when the budget is spent)."""
        windows = self._windows(time.time())
        if not windows:
            return wanted
        if self._grant is not None:
            args = [wanted]
            for _key, limit, ttl in windows:
                args += [limit, ttl]
            return int(self._grant(keys=[key for key, _, _ in windows], args=args))
        with self._lock:
            grant = min([wanted] + [limit - self._local.get(key, 0) for key, limit, _ in windows])
            if grant <= 0:
                return 0
            live = {key for key, _, _ in windows}
            self._local = {k: v for k, v in self._local.items() if k in live}
            for key, _limit, _ttl in windows:
                self._local[key] = self._local.get(key, 0) + grant
            return grant

    def acquire(self, wanted: int, max_wait: float) -> int:
        """Wait (up to ``max_wait`` seconds) until some messages may go; return how many."""
        deadline = time.monotonic() + max_wait
        while True:
            granted = self.try_acquire(wanted)
            if granted or time.monotonic() >= deadline:
                return granted
            # The per-second window turns over at the next whole second.
            time.sleep(min(1 - time.time() % 1 + 0.001, max(0.0, deadline - time.monotonic())))
