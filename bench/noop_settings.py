"""Settings for benchmark servers: the platform's own, plus a no-op authenticated DRF view (`bench_noop_urls`)
to measure a baseline on the same server and database. Used with PYTHONPATH=bench."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench_noop_urls"
