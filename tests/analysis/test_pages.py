"""The staff-only results page and the plan_study command (the difference model, and the simulated K-condition and
pairwise designs)."""

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


CONDITIONS = ["--design", "conditions", "--sd-annotator", "0.7", "--sd-item", "0.5", "--sd-residual", "1.5"]
PAIRWISE = ["--design", "pairwise", "--strengths", "a=0,b=0.4,c=0.8", "--pairs-per-annotator", "6"]


def test_plan_study_plans_a_k_condition_design_by_simulation():
    text = plan(
        *CONDITIONS,
        "--means",
        "plain=5,scaled=5.8,other=6.5",
        "--annotators",
        "4,12",
        "--items",
        "6",
        "--simulations",
        "40",
        "--seed",
        "3",
    )
    assert text.startswith("Design conditions: K = 3 (reference plain); means plain 5.000, scaled 5.800")
    assert "SDs: annotator 0.700, item 0.500, residual 1.500; condition shifts by annotator 0.000" in text
    assert "Each simulated study analysed as compare_conditions analyses one." in text
    assert "Contrast other − scaled: +0.700; alpha 0.05, p adjusted by Holm across 3 contrasts; 40 simulated" in text
    assert re.search(r"annotators +items +items each +scores +power +MC SE\n +4 +6 +6 +72 +\d+\.\d% +\d+\.\d%", text)
    assert re.search(r"\n +12 +6 +6 +216 +\d+\.\d%", text)
    assert re.search(r"Smallest design reaching 80%: \d+ annotators × 6 items|No design of the grid reaches", text)
    some = plan(*CONDITIONS, "--means", "1,2", "--annotators", "4", "--items", "4", "--simulations", "3")
    assert "means c1 1.000, c2 2.000" in some and "Contrast c2 − c1: +1.000" in some
    assert plan(*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--simulations", "3") == plan(
        *CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--simulations", "3"
    )  # seeded


def test_plan_study_plans_for_the_paired_contrasts_with_condition_shifts():
    text = plan(
        *CONDITIONS,
        "--means",
        "plain=5,scaled=5.8,other=6.5",
        "--annotators",
        "8",
        "--items",
        "6",
        "--simulations",
        "5",
        "--slope-sd-annotator",
        "0.4",
        "--slope-sd-item",
        "0.3",
        "--analysis",
        "paired",
    )
    assert "condition shifts by annotator 0.400, by item 0.300." in text
    assert "Each simulated study analysed as paired_contrasts analyses one." in text
    assert re.search(r"\n +8 +6 +6 +144 +\d+\.\d%", text)


def test_plan_study_reads_a_pilot_as_two_conditions(pilot):
    text = plan("--design", "conditions", "--study", "pilot", "--simulations", "4", "--contrast", "ours,baseline")
    assert text.startswith("Pilot pilot (as 2 conditions): 3 annotators × 3 items; means baseline ")
    assert "Design conditions: K = 2 (reference baseline)" in text
    assert re.search(r"\n +3 +3 +3 +18 +\d+\.\d%", text)  # the pilot's counts by default
    stated = plan(
        "--design", "conditions", "--pilot", "pilot", "--means", "baseline=5,ours=6", "--sd-residual", "1",
        "--annotators", "5", "--simulations", "4",
    )  # fmt: skip
    assert "means baseline 5.000, ours 6.000" in stated and "residual 1.000;" in stated
    assert re.search(r"\n +5 +3 +3 +30 ", stated)


def test_plan_study_plans_a_pairwise_design():
    text = plan(*PAIRWISE, "--annotators", "6,12", "--items", "4", "--tie-rate", "0.2", "--simulations", "20")
    assert text.startswith("Design pairwise: log strengths a +0.000, b +0.400, c +0.800; tie rate 0.20.")
    assert "Contrast a − b: -0.400 in log strength; alpha 0.05, p adjusted by Holm; 6 pairs per annotator" in text
    assert re.search(r"annotators +prompts +judgments +power +MC SE\n +6 +4 +36 +\d+\.\d%", text)
    assert re.search(r"\n +12 +4 +72 +\d+\.\d%", text)
    assert "Smallest design reaching" in text or "No design of the grid reaches 80% power." in text


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--design", "conditions", "--effect", "0.3"], "--effect"),
        (["--design", "conditions", "--max-items", "9"], "--max-items"),
        (["--design", "conditions", "--tie-rate", "0.1"], "--tie-rate"),
        (["--design", "pairwise", "--pilot", "pilot"], "--pilot"),
        (["--design", "pairwise", "--sd-residual", "1"], "--sd-residual"),
        (["--pilot", "pilot", "--effect", "0.3", "--means", "a=1,b=2"], "--means"),
        (["--pilot", "pilot", "--effect", "0.3", "--simulations", "5"], "--simulations"),
        (["--pilot", "pilot", "--effect", "0.3", "--annotators", "4,8"], "--annotators"),
        (["--effect", "0.3"], "--pilot"),
        (["--pilot", "pilot"], "--effect"),
        (["--design", "conditions", "--means", "a=1,b=2"], "--sd-annotator"),
        ([*CONDITIONS, "--annotators", "4", "--items", "4"], "--means"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--items", "4"], "--annotators"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4"], "--items"),
        ([*CONDITIONS, "--means", "a=1", "--annotators", "4", "--items", "4"], "--means"),
        ([*CONDITIONS, "--means", "a=1,b=x", "--annotators", "4", "--items", "4"], "--means"),
        ([*CONDITIONS, "--means", "a=1,2", "--annotators", "4", "--items", "4"], "--means"),
        ([*CONDITIONS, "--means", "a=1,a=2", "--annotators", "4", "--items", "4"], "--means"),
        ([*CONDITIONS, "--means", "a=1,b=1", "--annotators", "4", "--items", "4"], "--contrast"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--contrast", "a"], "--contrast"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--contrast", "a,z"], "--contrast"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "1", "--items", "4"], "--annotators"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4,0"], "--items"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--adjust", "bh"], "--adjust"),
        (
            [*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--slope-sd-item", "-1"],
            "--slope-sd-item",
        ),
        (
            [*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--analysis", "paired"]
            + ["--adjust", "tukey"],
            "--adjust",
        ),
        (["--design", "pairwise", "--analysis", "paired"], "--analysis"),
        (
            [*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--simulations", "0"],
            "--simulations",
        ),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--alpha", "1"], "--alpha"),
        ([*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "4", "--power", "0"], "--power"),
        (
            [*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4", "--items", "8", "--items-per-annotator", "1"],
            "--items-per-annotator",
        ),
        (
            [
                "--design",
                "conditions",
                "--sd-residual",
                "0",
                "--sd-item",
                "1",
                "--sd-annotator",
                "1",
                "--means",
                "a=1,b=2",
                "--annotators",
                "4",
                "--items",
                "4",
            ],
            "--sd-residual",
        ),
        ([*PAIRWISE, "--annotators", "4"], "--items"),
        ([*PAIRWISE, "--annotators", "4", "--items", "4", "--tie-rate", "1"], "--tie-rate"),
        ([*PAIRWISE, "--annotators", "4", "--items", "4", "--sd-item", "-1"], "--sd-item"),
        ([*PAIRWISE, "--annotators", "4", "--items", "4", "--adjust", "tukey"], "--adjust"),
        ([*PAIRWISE, "--annotators", "0", "--items", "4"], "--annotators"),
        ([*PAIRWISE, "--annotators", "4", "--items", "0"], "--items"),
        (
            ["--design", "pairwise", "--strengths", "a=0,b=1", "--annotators", "4", "--items", "4"],
            "--pairs-per-annotator",
        ),
        (["--design", "pairwise", "--annotators", "4", "--items", "4", "--pairs-per-annotator", "2"], "--strengths"),
    ],
)
def test_plan_study_refuses_bad_flags_of_the_simulated_designs_naming_the_flag(pilot, args, flag):
    with pytest.raises(CommandError, match=f"^{flag}[ :]"):
        plan(*args)


def test_plan_study_refuses_a_count_that_is_not_a_number():
    with pytest.raises(CommandError, match="--annotators"):
        plan(*CONDITIONS, "--means", "a=1,b=2", "--annotators", "4,x", "--items", "4")


def test_the_fit_of_the_primary_model_is_described(client, rated):
    html = staff_client(client).get("/results/page/").content.decode()
    model = json.loads(export("page", "--format", "json"))["studies"][0]["mixed_model"]
    diagnostics = html[html.index('id="fit-diagnostics"') :]
    diagnostics = diagnostics[: diagnostics.index("</dd>")]
    assert diagnostics.startswith('id="fit-diagnostics">converged') == model["converged"]
    assert ("singular fit (a variance component at 0)" in diagnostics) == model["singular"]
    assert f"REML deviance {numbers.number(model['deviance'])}" in diagnostics
    assert model["convergence"] and model["convergence"] in diagnostics
