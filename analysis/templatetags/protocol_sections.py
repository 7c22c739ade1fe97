"""``protocol_sections``: a study's protocol as titled sections of readable rows (``analysis.protocol_text``), the
same facts ``protocol.md`` writes, instead of its raw keys and dicts."""

from django import template

from ..protocol_text import protocol_sections as sections

register = template.Library()


@register.filter
def protocol_sections(protocol: dict | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections, none for a page without a protocol (a study whose ratings cannot be analysed)."""
    return sections(protocol) if protocol else []
