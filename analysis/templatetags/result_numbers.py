"""Template filters that write the results page's numbers with ``analysis.numbers``, the functions the tables, JSON,
Markdown and LaTeX use: ``{{ value|number:3 }}``, ``{{ value|signed }}``, ``{{ pair|interval }}``,
``{{ value|p_value }}``."""

from django import template

from .. import numbers

register = template.Library()


@register.filter
def number(value, digits=2) -> str:
    return numbers.number(value, int(digits))


@register.filter
def signed(value, digits=2) -> str:
    return numbers.signed(value, int(digits))


@register.filter
def interval(pair, digits=2) -> str:
    low, high = pair if pair else (None, None)
    return numbers.interval(low, high, int(digits))


@register.filter
def p_value(value) -> str:
    return numbers.p_value(value)
