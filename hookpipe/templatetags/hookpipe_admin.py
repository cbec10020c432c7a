"""Template filters of the admin's Pipeline page."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Where a dotted path, an environment variable or a settings entry may break onto the
# next line: after ".", "_" or "/" when a letter follows ("tests.<wbr>plugins",
# "HOOKPIPE_<wbr>WEBHOOK", but not "0.039"), and between "]" and "[".
_BREAK = re.compile(r"(?<=[._/])(?=[^\W\d_])|(?<=\])(?=\[)")


@register.filter
def breakable(value: Any) -> SafeString:
    """``value`` escaped, with a line-break opportunity (``<wbr>``) after each ``.``,
    ``_`` and ``/`` that a letter follows, and between ``]`` and ``[``.

    The page's tables hold long single words (``env HOOKPIPE_WEBHOOK_STORE_TOKEN``)
    that would otherwise either widen their column past the window or, wrapped
    anywhere, break in the middle of a name. With these, a name wraps where it has parts.
    """
    # Safe: the text is escaped first, and the pattern cannot match inside an entity
    # (escape() writes "&", "#", letters, digits and ";": no ".", "_", "/" or "]").
    return mark_safe(_BREAK.sub("<wbr>", escape(value)))
