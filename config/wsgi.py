import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from core.staticfiles import ensure_collected  # noqa: E402 - needs the settings loaded above

# Production pages name collected (hashed) static files: a start that skipped collectstatic collects them here
# (gunicorn's master already did, through gunicorn.conf.py; this is for any other server).
ensure_collected()
# Everything loaded so far (Django, DRF, the apps) lives as long as the process: keep it out of the garbage
# collector's full passes, which would otherwise walk it again and again under load.
gc.freeze()
