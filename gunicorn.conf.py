"""Read by gunicorn from the folder it starts in (`gunicorn config.wsgi`): production static files are collected
once, in the master, before any worker boots (a worker that spent its boot collecting could pass gunicorn's
timeout). config/wsgi.py checks again for servers started elsewhere."""

import os


def on_starting(server):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from core.staticfiles import ensure_collected

    if ensure_collected():
        server.log.info("collected static files into STATIC_ROOT")
