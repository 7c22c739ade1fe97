"""Give each study the seed's design: its two arms as conditions (baseline, the plain model and the reference; ours,
the entropy-scaled one) and its question as its one criterion; and let researchers name them."""

from django.db import migrations

#: As the two arms were: (position, key, name, kind, reference).
CONDITIONS = ((0, "baseline", "Baseline", "plain", True), (1, "ours", "Ours", "entropy", False))
#: The one criterion each study had: its question, scored from 1 to 10 under these ends.
CRITERION = {"key": "consistency", "label": "Score", "low_anchor": "does not match", "high_anchor": "matches exactly"}
GROUP = "Researcher"
PERMISSIONS = ("view_condition", "change_condition", "view_criterion", "change_criterion")


def add_seed_design(apps, schema_editor):
    Study = apps.get_model("annotations", "Study")
    Condition = apps.get_model("annotations", "Condition")
    Criterion = apps.get_model("annotations", "Criterion")
    for study in Study.objects.order_by("pk").only("pk", "question"):
        Condition.objects.bulk_create(
            Condition(study=study, position=position, key=key, name=name, kind=kind, is_reference=reference)
            for position, key, name, kind, reference in CONDITIONS
        )
        Criterion.objects.create(study=study, position=0, question=study.question, **CRITERION)


def give_researchers_the_design(apps, schema_editor):
    """Permissions are made by post_migrate, after every migration: make them now, then add them to the group."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="annotations", codename__in=PERMISSIONS)
        )


def take_the_design_from_researchers(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="annotations", codename__in=PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0007_conditions_and_criteria"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(add_seed_design, migrations.RunPython.noop),
        migrations.RunPython(give_researchers_the_design, take_the_design_from_researchers),
    ]
