"""Start ryu-manager on Python 3.11 (console scripts `qroute-controller` and `ryu-manager`).

Ryu 4.34 is the last release and needs two things that modern Python no longer gives it:
eventlet's `wsgi.ALREADY_HANDLED` (removed in the eventlet releases that import on 3.11) and
safe defaults. Importing `ryu.cmd.manager` monkey-patches the socket module, so this module
stays separate and nothing in the test suite imports it.
"""
import os
import sys

APP_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.py")

# Ryu listens on every address with no authentication by default; a lab controller should not.
SAFE_DEFAULTS = {
    "--ofp-listen-host": "127.0.0.1",
    "--wsapi-host": "127.0.0.1",
}


# ryu-manager's options that take no value (oslo.config also accepts --noNAME for these);
# every other --option without "=" takes the next argument as its value.
FLAGS = {"observe-links", "verbose", "enable-debugger", "explicit-drop", "install-lldp-flow",
         "use-stderr", "use-syslog"}
INFORMATIONAL = {"--version", "-h", "--help"}


def _positionals(args):
    """The arguments that are not options or option values: the apps to run."""
    expects_value = False
    for arg in args:
        if expects_value:
            expects_value = False
        elif arg.startswith("-"):
            name = arg.lstrip("-")
            expects_value = ("=" not in arg and arg not in INFORMATIONAL
                             and name not in FLAGS and name[2:] not in FLAGS)
        else:
            yield arg


def _with_defaults(argv):
    """Add the safe listen addresses and the qroute app unless the user chose otherwise."""
    args = list(argv)
    for option, value in SAFE_DEFAULTS.items():
        if not any(a == option or a.startswith(option + "=") for a in args):
            args = [f"{option}={value}"] + args
    if "--observe-links" not in args:
        args = ["--observe-links"] + args
    wants_app = next(_positionals(args), None) is not None  # ryu-manager's positionals are apps
    informational = any(a in INFORMATIONAL for a in args)
    if not wants_app and not informational:
        args.append(APP_PATH)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    from controller.compat import patch_eventlet

    patch_eventlet()
    from ryu.cmd import manager  # after the patch, on purpose

    sys.argv = ["ryu-manager"] + _with_defaults(argv)
    return manager.main()


if __name__ == "__main__":
    sys.exit(main())
