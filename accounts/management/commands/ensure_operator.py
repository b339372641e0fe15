import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Creates or resets an admin superuser with a fresh random password and prints the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    @transaction.atomic
    def handle(self, *args, username: str, **options):
        password = secrets.token_urlsafe(12)
        operator, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        operator.is_staff = operator.is_superuser = operator.is_active = True
        operator.set_password(password)
        operator.save(update_fields=["is_staff", "is_superuser", "is_active", "password"])
        self.stdout.write(f"Admin login: {username} / {password}")
