"""Which API-key variables a project endpoint may name: LLM_KEY_P<project id>_…, set by a site admin on the workers.

The id form cannot cover another project's names (LLM_KEY_P1_ never prefixes LLM_KEY_P12_). The older slug form
(LLM_KEY_<SLUG>_…) could: the scope of `demo` covered every name of `demo-zh`, and `demo_zh`, `demo-zh` and `Demo-ZH`
shared one. A name newly given to an endpoint (a new endpoint, or a changed api_key_env) must be in the id form: a
slug-form name would reach the variables of a project created later (`demo` naming LLM_KEY_DEMO_ZH2_… before
`demo-zh2` exists). An old slug-form name stays on the row that already had it, honoured only while no other
project's scope, in either form, also covers it; every name, new or old, is refused when another project's scope
covers it. Checked when an endpoint is saved and again before each call (a project created later can make an old
name ambiguous).
"""

from __future__ import annotations

import re

from django.db.models import Value
from django.db.models.functions import Replace, Upper
from django.utils.translation import gettext as _

from llm.models import key_variable_problem

ID_SCOPE = re.compile(r"^P([1-9][0-9]{0,17})$")  # as project_key_prefix writes ids: no leading zero


def project_key_prefix(project) -> str:
    return f"LLM_KEY_P{project.pk}_"


def legacy_key_prefix(slug: str) -> str:
    return "LLM_KEY_" + slug.upper().replace("-", "_") + "_"


def _scopes_covering(name: str) -> set[int]:
    """The ids of every project whose scope (id form or slug form) covers the variable `name`."""
    from projects.models import Project

    if not name.startswith("LLM_KEY_"):
        return set()
    rest = name[len("LLM_KEY_") :]
    # A prefix LLM_KEY_<S>_ covers the name when <S>_ starts its rest: one candidate per underscore.
    candidates = {rest[:i] for i, char in enumerate(rest) if char == "_" and i > 0}
    owners = {int(m.group(1)) for c in candidates if (m := ID_SCOPE.match(c))}
    by_id = set(Project.objects.filter(pk__in=owners).values_list("pk", flat=True)) if owners else set()
    normalised = Upper(Replace("slug", Value("-"), Value("_")))
    by_slug = Project.objects.annotate(key_scope=normalised).filter(key_scope__in=candidates)
    return by_id | set(by_slug.values_list("pk", flat=True))


def key_scope_problem(*, project, name: str) -> str | None:
    """Why `project`'s endpoint may not read its key from `name`, or None when it may."""
    if not name:
        return None
    problem = key_variable_problem(name)
    if problem:
        return problem
    prefix = project_key_prefix(project)
    owners = _scopes_covering(name)
    if project.pk not in owners:
        return _("a project endpoint's key variable starts with %(prefix)s (a site admin sets it on the workers)") % {
            "prefix": prefix
        }
    if owners != {project.pk}:
        return _(
            "%(name)s is also in another project's scope, so it is never sent; use a name starting with %(prefix)s "
            "(a site admin sets it on the workers)"
        ) % {"name": name, "prefix": prefix}
    return None


def new_key_name_problem(*, project, name: str) -> str | None:
    """Why `project`'s endpoint may not newly take `name` as its key variable (a new endpoint, or a changed
    api_key_env), or None when it may: the id form only."""
    problem = key_scope_problem(project=project, name=name)
    prefix = project_key_prefix(project)
    if problem is None and name and not name.startswith(prefix):
        return _(
            "a project endpoint's key variable starts with %(prefix)s (a site admin sets it on the workers); the "
            "older LLM_KEY_<SLUG>_ form stays only on endpoints that already have it"
        ) % {"prefix": prefix}
    return problem
