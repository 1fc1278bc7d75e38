"""Who may open a console page: the project's admins (and site admins); anyone else gets a 404."""

from django.http import Http404

from projects.models import Role
from projects.selectors import get_project_for_user
from training.selectors import get_project_job


def admin_project(request, slug: str):
    return get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))


def project_job(project, job_id: int):
    """One of the project's training jobs, or a 404 (the console never tells another project's jobs apart)."""
    job = get_project_job(project=project, job_id=job_id)
    if job is None:
        raise Http404("No such training job.")
    return job
