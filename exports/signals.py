"""Events the exports app announces; other apps subscribe (exports never imports them)."""

from django.dispatch import Signal

# Sent once a dataset version has been built and is ready (kwargs: version). Training's triggers listen.
version_ready = Signal()
