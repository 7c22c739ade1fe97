"""Researchers may add and remove a study's conditions (until it generates: ``services.design``)."""

from django.db import migrations

GROUP = "Researcher"
PERMISSIONS = ("add_condition", "delete_condition")


def permissions(apps):
    """The two permissions, made now if need be (post_migrate makes them only after every migration)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="annotations", codename__in=PERMISSIONS)


def give(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.add(*permissions(apps))


def take(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0015_conditions_beyond_two"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(give, take)]
