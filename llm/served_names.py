"""The endpoint names kept for served training models: job-<id> (and anything starting job-<digit>, in any letter
case) belongs to the served model of training job <id>, registered only by training.services for a job of the
endpoint's own project; no one adds one by hand — a project admin's form, the API, add_endpoint — (another project's
future job would find its name squatted, and names are unique ignoring case: JOB-5 would block job-5)."""

import re

from django.utils.translation import gettext as _

RESERVED_ENDPOINT_NAME = re.compile(r"^job-[0-9]", re.IGNORECASE)  # JOB-5 would pass for job-5 in a list


def reserved_name_problem(name: str) -> str | None:
    if RESERVED_ENDPOINT_NAME.match(name or ""):
        return "name: " + _("%(name)r is reserved for served training models (job-<id>); choose another name") % {
            "name": name
        }
    return None
