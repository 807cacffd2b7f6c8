"""Run only by tests/test_mutation_children.py (the name keeps ordinary runs from collecting it).

Writes the test database this process's session uses to ``$PROBE_DIR/<pid>``.
"""

import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection


def test_write_the_test_database_name(db):
    get_user_model().objects.create_user("probe")  # the database is there and takes writes
    Path(os.environ["PROBE_DIR"], str(os.getpid())).write_text(connection.settings_dict["NAME"])
