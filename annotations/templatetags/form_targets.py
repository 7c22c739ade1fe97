"""``{% form_target study %}``: the study's completion URL may end the redirects after this page's form is posted."""

from django import template

from evalsite.content_security import allow_form_target

from ..services.studies import completion_url_error

register = template.Library()


@register.simple_tag(takes_context=True)
def form_target(context, study) -> str:
    """Add the study's completion URL's origin to this response's ``form-action`` (a URL the study rules accept
    only); renders nothing."""
    url = study.completion_url
    if url and completion_url_error(url) is None and (request := context.get("request")) is not None:
        allow_form_target(request, url)
    return ""
