"""API start-up rules that need no running server: the keys setting and the loopback-only
bind without keys."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from maint.settings import Settings
from serving.api.auth import BindRefused, check_bind
from tests.helpers import ROOT, with_


def test_api_keys_setting_is_comma_separated(monkeypatch, tmp_path):
    monkeypatch.setenv("MAINT_API_KEYS", " key-a, key-b ,,")
    keys = Settings(data_dir=tmp_path).api_keys
    assert [k.get_secret_value() for k in keys] == ["key-a", "key-b"]
    assert "key-a" not in repr(Settings(data_dir=tmp_path))  # secrets stay out of logs
    monkeypatch.setenv("MAINT_API_KEYS", "")
    assert Settings(data_dir=tmp_path).api_keys == []


def test_no_keys_means_loopback_only(tmp_path):
    open_settings = Settings(data_dir=tmp_path)
    for host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        check_bind(host, open_settings)
    for host in ("0.0.0.0", "::", "192.168.1.10", "plant-server"):
        with pytest.raises(BindRefused, match="MAINT_API_KEYS"):
            check_bind(host, open_settings)
    check_bind("0.0.0.0", with_(open_settings, api_keys=[SecretStr("k")]))

    env = {k: v for k, v in os.environ.items() if k != "MAINT_API_KEYS"}
    env["MAINT_DATA_DIR"] = str(tmp_path)
    cli = subprocess.run(
        [sys.executable, "-m", "maint.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 2 and "MAINT_API_KEYS" in cli.stderr
    assert not (tmp_path / "postgres").exists()  # refused before touching any store
