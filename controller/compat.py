"""Make Ryu 4.34 importable on Python 3.11 with eventlet 0.33 (no socket monkey-patching here)."""


def patch_eventlet() -> None:
    import eventlet.wsgi

    if not hasattr(eventlet.wsgi, "ALREADY_HANDLED"):
        # ryu.app.wsgi imports this name, which eventlet 0.31 removed. A list, not an object:
        # eventlet iterates it on websocket routes.
        eventlet.wsgi.ALREADY_HANDLED = []
