"""ryu-manager's side of the configuration: the ``[qroute]`` settings read from its
``--config-file`` list, checked against the ports ryu itself listens on, and the Ryu defaults
qroute relies on."""
from __future__ import annotations

import sys

from oslo_config.cfg import NoSuchOptError
from ryu import cfg

from controller.settings import Settings, SettingsError, read_settings

CONF = cfg.CONF
# Dead-switch detection is off in Ryu by default; a config file can still override these.
CONF.set_default("echo_request_interval", 2.0)
CONF.set_default("maximum_unreplied_echo_requests", 3)


def _ryu_options() -> tuple[list[str], dict[str, int]]:
    """ryu-manager's --config-file list and the ports it listens on, by option; empty when no
    command line was parsed (an app built outside ryu-manager, e.g. in tests), where
    oslo.config does not know the options yet."""
    try:
        config_files = list(CONF.config_file or [])
    except NoSuchOptError:
        config_files = []
    ports = {}
    for option in ("wsapi_port", "ofp_tcp_listen_port", "ofp_ssl_listen_port"):
        try:
            ports["--" + option.replace("_", "-")] = int(getattr(CONF, option))
        except (NoSuchOptError, AttributeError, TypeError, ValueError):
            pass
    return config_files, ports


def load_settings() -> Settings:
    config_files, ryu_ports = _ryu_options()
    try:
        settings = read_settings(config_files)
        clash = [option for option, port in ryu_ports.items() if port == settings.metrics_port]
        if settings.metrics_port and clash:
            # ryu listens with SO_REUSEPORT: both servers would bind, each taking some connections
            raise SettingsError(f"[qroute] metrics_port = {settings.metrics_port} is also ryu's "
                                f"{clash[0]}; give the metrics another port")
        return settings
    except SettingsError as error:
        print(f"qroute: invalid configuration:\n{error}", file=sys.stderr)
        raise SystemExit(2) from error
