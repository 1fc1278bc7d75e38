import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, DRF, the apps) lives as long as the process: keep it out of the garbage
# collector's full passes, which would otherwise walk it again and again under load.
gc.freeze()
