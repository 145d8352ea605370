"""The embedded servers: start on demand, reuse, stop, and come back after a crash."""

import os
import signal
import time

import psycopg

from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres


def test_servers_restart_after_being_killed(tmp_path):
    pg, fk = EmbeddedPostgres(tmp_path), EmbeddedFalkorDB(tmp_path)
    try:
        first = (pg.start().pid, fk.start().pid)
        assert (pg.start().pid, fk.start().pid) == first  # reused, not restarted
        os.kill(pg.status().pid, signal.SIGKILL)
        os.kill(fk.status().pid, signal.SIGKILL)
        time.sleep(0.2)
        assert not pg.is_running() and not fk.is_running()
        assert pg.start().running and fk.start().running
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()
        fk.stop()
    assert not pg.is_running() and not fk.is_running()
