"""The endpoint names kept for served training models: job-<id> (and anything starting job-<digit>) belongs to the
served model of training job <id>, registered only by training.services for a job of the endpoint's own project;
a project admin's endpoint form may not take one (another project's future job would find its name squatted)."""

import re

RESERVED_ENDPOINT_NAME = re.compile(r"^job-[0-9]", re.IGNORECASE)  # JOB-5 would pass for job-5 in a list


def reserved_name_problem(name: str) -> str | None:
    if RESERVED_ENDPOINT_NAME.match(name or ""):
        return f"name: {name!r} is reserved for served training models (job-<id>); choose another name"
    return None
