"""Settings for bench/load_mixed.py only: the site's settings plus a bare DRF view (the baseline)."""

from snapshots_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_mixed_urls"
