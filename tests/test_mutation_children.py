"""mutmut's children each get a test database of their own (the root conftest.py).

mutmut reads the settings in one process (its first pytest session) and then forks a
child per mutant, each running a pytest session of its own. This does the same in a
fresh interpreter: one session, then two forked children at once.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DRIVER = """
import os, sys, pytest
args = ["-q", "-p", "no:cacheprovider", "tests/mutation_child_probe.py"]
print("exit", os.getpid(), int(pytest.main(args)), flush=True)
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # as mutmut's children do
        os._exit(int(pytest.main(args)))
    children.append(pid)
for pid in children:
    print("exit", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "sqlite").startswith("sqlite"),
    reason="mutmut runs on the embedded default; forked sessions would share a PostgreSQL test database",
)
def test_forked_sessions_each_use_a_test_database_named_after_their_own_process(tmp_path):
    env = {**os.environ, "PROBE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    exits = dict(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("exit "))
    assert len(exits) == 3 and set(exits.values()) == {"0"}, done.stdout + done.stderr
    names = {pid: (tmp_path / pid).read_text() for pid in exits}
    for pid, name in names.items():
        assert Path(name).name == f"test-{pid}.sqlite3"
    assert len(set(names.values())) == 3
