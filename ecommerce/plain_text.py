"""Text the API accepts: no control characters (Unicode category Cc, U+0000 to U+001F and
U+007F to U+009F). ESC and its kin would travel on, unseen, to logs, the admin and the other
contexts' copies of a name.

Every text field of a request body is held to it, by the parser (`ecommerce.parsers`) and in
the OpenAPI document (`ecommerce.schema`), from the field's declaration alone:
- a field of one line (a name, an address) refuses every control character;
- a field of several lines, declared with DRF's `style={"base_template": "textarea.html"}`
  (a description), keeps tab, line feed and carriage return;
- a password, declared with DRF's `style={"input_type": "password"}`, is compared and never
  shown: it refuses only NUL, as every DRF text field does.
"""

import re

from rest_framework import serializers

# Character ranges for a regex class, as OpenAPI's patterns and Python's `re` both read them.
CONTROL = r"\u0000-\u001f\u007f-\u009f"
CONTROL_BUT_LINE_BREAKS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
NUL = r"\u0000"

LINE_BREAKS_ALLOWED = "; only tab, line feed and carriage return are"


def is_multiline(field: serializers.CharField) -> bool:
    return field.style.get("base_template") == "textarea.html"


def refused_characters(field: serializers.CharField) -> str:
    """The character ranges (a regex class's inside) that `field` refuses."""
    if field.style.get("input_type") == "password":
        return NUL
    return CONTROL_BUT_LINE_BREAKS if is_multiline(field) else CONTROL


def control_character_error(field: serializers.CharField, value: str) -> str | None:
    """What is wrong with `value` for `field`: the first control character it refuses."""
    found = re.search(f"[{refused_characters(field)}]", value)
    if found is None:
        return None
    allowed = LINE_BREAKS_ALLOWED if is_multiline(field) else ""
    return f"Control character U+{ord(found.group()):04X} is not allowed{allowed}."
