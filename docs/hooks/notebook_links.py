"""MkDocs hook: relative links inside the executed tutorials, resolved as MkDocs resolves
Markdown links, and a warning (a failure in strict mode) for any that point nowhere.

mkdocs-jupyter renders a tutorial's Markdown cells itself, so a link such as
``[tutorial 7](07-custom-layer.py)`` or ``[the API](../reference/api/autograd.md)``
reaches the HTML untouched and would point at a file next to the built page. Here each
relative ``href`` to a ``.py`` or ``.md`` source is looked up among the site's files and
replaced by the URL of the page built from it.
"""

from __future__ import annotations

import logging
import posixpath
import re

log = logging.getLogger("mkdocs.hooks.notebook_links")

_HREF = re.compile(r'href="(?![a-z]+:|#|/)([^"#?]+\.(?:py|md))(#[^"]*)?"')


def on_page_content(html, page, config, files):
    """MkDocs event: fix the links of pages built from notebooks (``.py`` tutorials)."""
    src = page.file.src_uri
    if not src.endswith(".py"):
        return html

    def fix(match):
        target, anchor = match.group(1), match.group(2) or ""
        uri = posixpath.normpath(posixpath.join(posixpath.dirname(src), target))
        found = files.get_file_from_path(uri)
        if found is None:
            log.warning("Doc file '%s' contains a link '%s', but the target '%s' is not "
                        "found among documentation files.", src, target, uri)
            return match.group(0)
        return f'href="{found.url_relative_to(page.file)}{anchor}"'

    return _HREF.sub(fix, html)
