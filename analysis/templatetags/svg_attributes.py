"""``svg_attributes``: matplotlib's inline SVG with its CSS turned into presentation attributes.

The Content-Security-Policy allows no inline styles (``style-src 'self'``), and matplotlib writes every colour and
stroke as a ``style="fill: #fff; stroke-width: 0.8"`` attribute and a ``<style>*{stroke-linejoin: round; ...}``
element; a browser would draw such a plot black. SVG takes the same properties as attributes (``fill="#fff"``),
which no policy restricts; the ``*`` rule becomes attributes of the root ``<svg>``, which its elements inherit (an
element's own attribute still wins, as its style attribute won over the rule).
"""

import re

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_UNIVERSAL_RULES = re.compile(r"<style[^>]*>\s*\*\s*\{([^}]*)\}\s*</style>")
_ROOT = re.compile(r"<svg\b")
#: The CSS properties matplotlib writes, each of which SVG also takes as a presentation attribute of that name.
PRESENTATION = frozenset(
    "fill fill-opacity fill-rule stroke stroke-width stroke-opacity stroke-linecap stroke-linejoin stroke-dasharray "
    "stroke-dashoffset stroke-miterlimit opacity clip-path clip-rule font-family font-size font-style font-weight "
    "text-anchor dominant-baseline visibility display color mask".split()
)


def _attributes(declarations: str) -> str:
    """``' fill="#fff" stroke-width="0.8"'`` for ``"fill: #fff; stroke-width: 0.8"``. A property SVG takes only as CSS
    stays in a ``style`` attribute, which the policy blocks (and the browser tests report) rather than the page
    failing."""
    attributes, rest = [], []
    for declaration in declarations.split(";"):
        name, _, value = declaration.partition(":")
        name = name.strip().lower()
        if name in PRESENTATION:
            attributes.append(f' {name}="{value.strip()}"')  # the value is the attribute's, already escaped
        elif declaration.strip():
            rest.append(declaration.strip())
    if rest:
        attributes.append(f' style="{"; ".join(rest)}"')
    return "".join(attributes)


@register.filter(is_safe=True)
def svg_attributes(svg: str) -> SafeString:
    """The SVG with no ``style`` attribute or ``<style>`` element: their properties as presentation attributes."""
    root = "".join(_attributes(rules) for rules in _UNIVERSAL_RULES.findall(svg))
    svg = _UNIVERSAL_RULES.sub("", svg)
    svg = _STYLE_ATTRIBUTE.sub(lambda match: _attributes(match.group(1)), svg)
    return mark_safe(_ROOT.sub(lambda match: match.group() + root, svg, count=1))
