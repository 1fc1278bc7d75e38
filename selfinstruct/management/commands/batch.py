"""manage.py batch status|pause|resume|cancel|wait ID: the batch's numbers, its stage and its pauses and resumes."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from selfinstruct.batches import cancel_batch, pause_batch, resume_batch
from selfinstruct.management.commands.generate import stage_text, wait_for_batch
from selfinstruct.models import GenerationBatch
from selfinstruct.selectors import batch_progress, format_progress
from selfinstruct.services import BatchError
from selfinstruct.timeline import batch_events

ACTIONS = {"pause": pause_batch, "resume": resume_batch, "cancel": cancel_batch}


class Command(BaseCommand):
    help = "Show, pause, resume, cancel or wait for a generation batch."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "wait", *ACTIONS])
        parser.add_argument("batch_id", type=int)
        parser.add_argument("--timeout", type=float)

    def handle(self, *args, action, batch_id, timeout, **options):
        batch = GenerationBatch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise CommandError(f"no batch {batch_id}")
        if action == "wait":
            wait_for_batch(self, batch_id, timeout=timeout)
            return
        if action in ACTIONS:
            try:
                ACTIONS[action](batch=batch)
            except BatchError as exc:
                raise CommandError(str(exc)) from None
            batch.refresh_from_db()
        progress = batch_progress(batch=batch)
        self.stdout.write(f"batch {batch_id} {format_progress(progress)}")
        self.stdout.write(f"  stage: {stage_text(progress)}")
        for event in batch_events(batch=batch):  # the pauses and resumes, in the server's time zone
            by = f" by {event['by']}" if event["by"] else ""
            self.stdout.write(f"  {event['event']} {timezone.localtime(event['at']):%Y-%m-%d %H:%M:%S}{by}")
