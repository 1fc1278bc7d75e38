"""Settings for benchmark servers: the platform's own, plus a no-op authenticated DRF view (`bench_noop_urls`)
to measure a baseline on the same server and database. Used with PYTHONPATH=bench."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench_noop_urls"

# Measured as production runs: DEBUG off (Django then keeps no per-query log, which costs a claim or a submit with
# its ten statements more than the no-op's one).
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
