"""Page forms meeting service errors: a service names the bad field at the start of its message ("slug: …")."""

from __future__ import annotations


def add_service_error(form, exc: Exception) -> None:
    """Show a service's refusal on the form: next to the field it names when the form has it, else above."""
    field, _sep, text = str(exc).partition(": ")
    form.add_error(field if field in form.fields else None, text or str(exc))
