"""The study permissions to run and to export, and the Researcher group holding what a researcher needs."""

from django.db import migrations

GROUP = "Researcher"

#: (app label, codename): create, run and export studies; see what annotators were shown and answered; set a
#: study's exclusion rules; pick a model from the registry. The list is in docs/researcher-guide.md.
PERMISSIONS = [
    ("annotations", "add_study"),
    ("annotations", "change_study"),
    ("annotations", "view_study"),
    ("annotations", "run_study"),
    ("annotations", "export_study"),
    ("annotations", "add_prompt"),
    ("annotations", "change_prompt"),
    ("annotations", "delete_prompt"),
    ("annotations", "view_prompt"),
    ("annotations", "view_imagepair"),
    ("annotations", "add_annotator"),
    ("annotations", "change_annotator"),
    ("annotations", "view_annotator"),
    ("annotations", "view_assignment"),
    ("annotations", "view_rating"),
    ("analysis", "add_analysissettings"),
    ("analysis", "change_analysissettings"),
    ("analysis", "view_analysissettings"),
    ("generation", "view_diffusionmodel"),
]


def create_researcher_group(apps, schema_editor):
    """Permissions are made by post_migrate, after every migration: make them now, then the group."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.set(
        [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in PERMISSIONS]
    )


def remove_researcher_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0004_leases_owners_and_check_arms"),
        ("analysis", "0001_analysis_settings"),
        ("generation", "0003_job_claims_and_training_size"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="study",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("run_study", "Can generate, open and close a study"),
                    ("export_study", "Can see and export a study's results"),
                ],
                "verbose_name_plural": "studies",
            },
        ),
        migrations.RunPython(create_researcher_group, remove_researcher_group),
    ]
