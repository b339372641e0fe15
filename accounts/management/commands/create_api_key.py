from django.core.management.base import BaseCommand

from accounts import services
from accounts.selectors import api_keys_active


class Command(BaseCommand):
    help = "Creates an API key for a bot and prints it (alone, on the last line). Only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the other active keys of this name."
        )

    def handle(self, *args, name: str, rotate: bool, **options):
        if rotate:
            for old_key in api_keys_active().filter(name=name):
                services.api_key_revoke(api_key=old_key)
        api_key, raw_key = services.api_key_create(name=name)
        self.stderr.write(
            f"API key {api_key.name!r} created (prefix {api_key.prefix}); it is shown only once:"
        )
        self.stdout.write(raw_key)
