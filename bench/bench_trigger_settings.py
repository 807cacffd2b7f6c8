"""Settings for the trigger benchmarks only: the site's settings with a URLconf that adds
a bare DRF view (the baseline). Selected with DJANGO_SETTINGS_MODULE; never in production."""

from snapshots_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_trigger_urls"
