"""Model output as safe HTML: Markdown rendered with raw HTML off, then sanitized by an allow-list (nh3).

Model output is untrusted. Raw HTML in it is shown as text; links keep only http/https/mailto targets and open
with rel="noopener noreferrer nofollow"; images are dropped (a remote image is a tracking pixel), their alt text
kept; no attribute can carry script (no on*, no style).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from mdit_py_plugins.tasklists import tasklists_plugin

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
_md.enable("table").enable("strikethrough")
_md.use(tasklists_plugin)  # "- [ ] step" / "- [x] step" as (disabled) checkboxes


def _image_as_alt_text(renderer, tokens, idx, options, env) -> str:
    return escapeHtml(tokens[idx].content)


_md.add_render_rule("image", _image_as_alt_text)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "input",  # only the task-list checkbox (raw HTML is off; its attribute values are forced below)
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "ul": {"class"},
    "li": {"class"},
    "input": {"checked"},
}
FORCED_VALUES = {"input": {"type": "checkbox", "disabled": "disabled"}}


@lru_cache(maxsize=4096)  # a task's texts are shown to each of its labelers: render them once per process
def render_markdown(text: str) -> str:
    html = _md.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        set_tag_attribute_values=FORCED_VALUES,
    )
