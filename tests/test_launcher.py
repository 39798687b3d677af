"""The launcher's argument defaults, and the real ryu-manager start-up in a subprocess.

`ryu.cmd.manager` monkey-patches the socket module when imported, so it is only ever imported
in child processes here.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from controller import launcher
from controller.launcher import APP_PATH, _with_defaults

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def test_importing_the_launcher_does_not_import_ryu_manager():
    assert "ryu.cmd.manager" not in sys.modules
    assert launcher.APP_PATH.endswith(os.path.join("controller", "app.py"))


def test_empty_command_line_gets_safe_defaults_links_and_the_app():
    args = _with_defaults([])
    assert "--ofp-listen-host=127.0.0.1" in args
    assert "--wsapi-host=127.0.0.1" in args
    assert "--observe-links" in args
    assert args[-1] == APP_PATH and args.count(APP_PATH) == 1


@pytest.mark.parametrize("given", [
    ["--ofp-listen-host", "0.0.0.0"],
    ["--ofp-listen-host=10.1.1.1"],
])
def test_user_listen_address_is_kept(given):
    args = _with_defaults(given)
    assert [a for a in args if a.startswith("--ofp-listen-host")] == [given[0]]
    assert "--wsapi-host=127.0.0.1" in args
    assert args[-1] == APP_PATH


def test_user_wsapi_host_is_kept_and_its_value_is_not_an_app():
    args = _with_defaults(["--wsapi-host", "ctl.lab"])
    assert not any(a.startswith("--wsapi-host=") for a in args)
    assert args[-1] == APP_PATH


@pytest.mark.parametrize("given", [
    ["ryu.app.simple_switch_13"],
    ["my_app.py"],
    ["--verbose", "ryu.app.ofctl_rest"],
    ["--config-file", "x.conf", "other/app.py"],
    ["myapp"],   # a bare module name on the Python path
])
def test_an_app_named_by_the_user_replaces_the_default(given):
    args = _with_defaults(given)
    assert APP_PATH not in args
    assert args[-len(given):] == given
    assert "--observe-links" in args


@pytest.mark.parametrize("given", [
    ["--config-file", "x.conf"],
    ["--config-file", "qroute.cfg"],
    ["--config-file", "/etc/qroute/qroute.ini"],
    ["--config-file=x.conf"],
    ["--log-config-file", "logging.json"],
    ["--default-log-level", "10"],
    # the OpenFlow channel over TLS, as MininetLab(tls=True) starts it
    ["--ofp-ssl-listen-port", "6653", "--ctl-privkey", "controller-key.pem",
     "--ctl-cert", "controller-cert.pem", "--ca-certs", "ca-cert.pem"],
])
def test_option_values_are_not_mistaken_for_apps(given):
    args = _with_defaults(given)
    assert args[-1] == APP_PATH
    assert args[-1 - len(given):-1] == given   # user arguments kept, in order


@pytest.mark.parametrize("flag", ["--version", "--help", "-h"])
def test_informational_runs_get_no_app(flag):
    args = _with_defaults([flag])
    assert APP_PATH not in args and flag in args


def test_observe_links_is_not_added_twice_and_noobserve_wins():
    assert _with_defaults(["--observe-links"]).count("--observe-links") == 1
    args = _with_defaults(["--noobserve-links"])
    assert args.index("--observe-links") < args.index("--noobserve-links")  # later wins


# --- the real thing, in child processes ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args, timeout=20):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _launch_with_config(conf):
    return _run([sys.executable, "-m", "controller.launcher", "--config-file", str(conf),
                 "--ofp-tcp-listen-port", str(_free_port())])


def test_bad_config_value_stops_the_controller_naming_the_option(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[DEFAULT]\nwsapi_port = 0\n[qroute]\nstats_interval = soon\n")
    result = _launch_with_config(conf)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "stats_interval" in output and str(conf) in output and "'soon'" in output


def test_unknown_config_key_stops_the_controller(tmp_path):
    conf = tmp_path / "typo.conf"
    conf.write_text("[qroute]\nreoptimise_interval = 5\n")
    result = _launch_with_config(conf)
    assert result.returncode != 0
    assert "reoptimise_interval" in result.stdout + result.stderr


def test_ryu_manager_console_script_reports_its_version():
    script = VENV_BIN / "ryu-manager"
    if not script.exists():
        pytest.skip(f"{script} is not installed")
    result = _run([str(script), "--version"])
    assert result.returncode == 0
    assert "4.34" in result.stdout + result.stderr
