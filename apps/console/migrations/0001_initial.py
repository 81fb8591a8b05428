from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="OnlineUser",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "verbose_name": "online user",
                "verbose_name_plural": "online users",
                "permissions": (("kick_onlineuser", "Can end the sessions of online users"),),
                "managed": False,
                "default_permissions": ("view",),
            },
        ),
    ]
