"""The staff-only results page and the plan_study command."""

import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from analysis import numbers
from analysis.models import AnalysisSettings
from annotations.models import Study
from tests.analysis.test_exports import SCORES, export, rate_all
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated():
    study, annotators = make_open_study(slug="page", prompts=3, annotators=3)
    rate_all(study, annotators, [*SCORES, [(5, 5), (5, 5), (5, 5)]])
    return study


def staff_client(client, *, staff=True):
    """Signed in as a researcher (the Researcher group) who owns every study made so far."""
    user = get_user_model().objects.create_user("someone", password="pw", is_staff=staff)
    user.groups.add(Group.objects.get(name="Researcher"))
    Study.objects.update(owner=user)
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_the_login(client, rated):
    response = client.get("/results/page/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_non_staff_cannot_see_results(client, rated):
    response = staff_client(client, staff=False).get("/results/page/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_see_the_numbers_of_the_json_export(client, rated):
    html = staff_client(client).get("/results/page/").content.decode()
    study = json.loads(export("page", "--format", "json"))["studies"][0]
    effect = study["mixed_model"]["effect"]
    primary = html[html.index('id="mixed-model"') : html.index('id="robustness"')]
    # the primary test's numbers as the table writes them (analysis.numbers), not at a precision of the page's own
    assert f"<dt>estimate</dt><dd>{numbers.signed(effect['estimate'])}</dd>" in primary
    assert f"<dt>SE</dt><dd>{numbers.number(effect['se'], 3)}</dd>" in primary
    assert f"<dt>95% CI</dt><dd>{numbers.interval(*effect['ci'])}</dd>" in primary
    assert f"<dt>p</dt><dd>{numbers.p_value(effect['p']).replace('<', '&lt;')}</dd>" in primary
    assert numbers.number(study["agreement"]["alpha"]) in html
    table = export("page", "--format", "markdown").splitlines()[2]
    for cell in [c.strip() for c in table.strip("|").split("|")]:
        assert cell.replace("<", "&lt;") in html, cell
    assert html.count("<svg") == 3
    assert "Exclusions <strong>applied</strong>" in html and "1 of 3 annotators" in html
    assert study["protocol"]["question"] in html


def test_the_toggle_shows_the_analysis_without_exclusions(client, rated):
    client = staff_client(client)
    html = client.get("/results/page/?exclusions=off").content.decode()
    without = json.loads(export("page", "--format", "json", "--exclusions", "off"))["studies"][0]
    assert "not applied" in html and 'href="?exclusions=on"' in html
    assert f"<dd>{numbers.signed(without['mixed_model']['effect']['estimate'])}</dd>" in html
    AnalysisSettings.objects.create(study=rated, apply_exclusions_by_default=False)
    assert "not applied" in client.get("/results/page/").content.decode()


def test_agreement_that_cannot_be_estimated_says_so(client):
    study, annotators = make_open_study(slug="alone", prompts=3, annotators=1)
    rate_all(study, annotators, SCORES[:1])
    html = staff_client(client).get("/results/alone/").content.decode()
    agreement = html[html.index('id="agreement"') :]
    agreement = agreement[: agreement.index("</dl>")]
    assert "alpha (interval)</dt><dd>not estimable (no image rated by two annotators" in agreement
    assert "ICC(A,1)</dt><dd>not estimable: " in agreement and "only one annotator" in agreement
    assert "[, ]" not in agreement


def test_unknown_study_is_404_and_no_ratings_is_explained(client, rated):
    make_open_study(slug="empty")
    client = staff_client(client)
    assert client.get("/results/nope/").status_code == 404
    assert re.search("no ratings", client.get("/results/empty/").content.decode())


def plan(*args) -> str:
    out = io.StringIO()
    call_command("plan_study", *args, stdout=out)
    return out.getvalue()


def test_plan_study_reports_power_and_the_smallest_design():
    study, annotators = make_open_study(slug="pilot", prompts=6, annotators=4)
    rate_all(
        study,
        annotators,
        [
            [(3, 8), (5, 5), (6, 4), (2, 6), (4, 4), (3, 5)],
            [(2, 9), (4, 7), (6, 6), (3, 3), (5, 7), (4, 6)],
            [(4, 6), (5, 7), (3, 3), (6, 8), (2, 5), (5, 5)],
            [(3, 4), (6, 6), (5, 8), (4, 7), (3, 3), (2, 6)],
        ],
    )
    text = plan("--pilot", "pilot", "--effect", "0.3", "--max-annotators", "200", "--max-items", "300")
    assert text.startswith("Pilot pilot: 4 annotators × 6 items")
    assert re.search(r"Design 4 annotators × 6 items: power \d+\.\d% to detect \+0\.3", text)
    assert "Smallest design reaching 80%" in text or "No design within" in text
    assert "With unlimited annotators at 6 items" in text
    more = plan(
        "--pilot",
        "pilot",
        "--effect",
        "0.3",
        "--annotators",
        "30",
        "--items",
        "40",
        "--max-annotators",
        "50",
        "--max-items",
        "50",
    )
    assert "Design 30 annotators × 40 items" in more
    with pytest.raises(CommandError, match="No study"):
        plan("--pilot", "nope", "--effect", "0.3")


@pytest.fixture
def pilot():
    study, annotators = make_open_study(slug="pilot", prompts=3, annotators=3)
    rate_all(study, annotators, [*SCORES, [(4, 6), (5, 7), (3, 3)]])
    return study


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--alpha", "0"], "--alpha"),
        (["--alpha", "1"], "--alpha"),
        (["--alpha", "1.5"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["--power", "0"], "--power"),
        (["--power", "1"], "--power"),
        (["--power", "-0.2"], "--power"),
        (["--effect", "inf"], "--effect"),
        (["--effect", "nan"], "--effect"),
        (["--annotators", "1"], "--annotators"),
        (["--annotators", "0"], "--annotators"),
        (["--items", "0"], "--items"),
        (["--items", "-3"], "--items"),
        (["--max-items", "1"], "--max-items"),
    ],
)
def test_plan_study_refuses_arguments_out_of_range_naming_the_flag(pilot, args, flag):
    effect = [] if flag == "--effect" else ["--effect", "0.3"]
    with pytest.raises(CommandError, match=f"^{flag} must be"):
        plan("--pilot", "pilot", *effect, *args)


def test_plan_study_takes_the_pilots_counts_only_when_none_are_given(pilot):
    assert "Design 3 annotators × 3 items" in plan("--pilot", "pilot", "--effect", "0.3")
    assert "Design 3 annotators × 2 items" in plan("--pilot", "pilot", "--effect", "0.3", "--items", "2")


def test_the_fit_of_the_primary_model_is_described(client, rated):
    html = staff_client(client).get("/results/page/").content.decode()
    model = json.loads(export("page", "--format", "json"))["studies"][0]["mixed_model"]
    diagnostics = html[html.index('id="fit-diagnostics"') :]
    diagnostics = diagnostics[: diagnostics.index("</dd>")]
    assert diagnostics.startswith('id="fit-diagnostics">converged') == model["converged"]
    assert ("singular fit (a variance component at 0)" in diagnostics) == model["singular"]
    assert f"REML deviance {numbers.number(model['deviance'])}" in diagnostics
    assert model["convergence"] and model["convergence"] in diagnostics
