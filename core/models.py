"""The columns every background run shares, declared once (HackSoft's abstract base model): the eleven run models of
the apps inherit them, and each adds its `status` made from its kind (`status = KIND.status_field()`), whose states
and stored names are the kind's (core.lifecycle)."""

from django.conf import settings
from django.db import models


class RunModel(models.Model):
    """A run in the one lifecycle. A model that lacks one of these columns removes it (`started_at = None`, Django's
    way of dropping an inherited field) and its kind says the lifecycle must not use it (`started_field=None`,
    `token_field=None`)."""

    # The claim of the holder allowed to report: a worker whose token was replaced (the run restarted) stops.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    # The last sign of life of the worker running it: the reconciler acts on silence (core.lifecycle.reconcile).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
