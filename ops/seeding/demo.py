"""The demo data of seed_demo without options, made through the services.

`demo_seed` goes through the services (users, bonuses, top-ups, jobs, a project, an assistant), so a
fresh `make run` shows every screen with data that was made the way production makes it.
"""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import EndUser
from accounts.services import end_user_upsert
from billing.services import telegram_stars_credit
from generations import services as generations_services
from generations.models import AIModel, Generation, Project

DEMO_USERS = [
    ("100000001", {"username": "alice", "first_name": "Alice", "language_code": "en"}),
    ("100000002", {"username": "boris", "first_name": "Boris", "language_code": "ru"}),
    ("100000003", {"username": "chen", "first_name": "Chen", "language_code": "zh"}),
    ("device:demo-phone-1", {}),
]
# (user ref, Telegram Stars charge id, stars): the charge id makes each top-up happen once.
DEMO_TOPUPS = [
    ("100000001", "demo-stars-alice-1", 500),
    ("100000001", "demo-stars-alice-2", 250),
    ("100000002", "demo-stars-boris-1", 300),
]
# (user ref, model code, prompt, final status)
DEMO_GENERATIONS = [
    ("100000001", "flux-2-pro", "A lighthouse on a cliff at dawn, watercolour", "succeeded"),
    ("100000001", "recraft-v3", "Flat icon of a paper plane, teal and white", "succeeded"),
    ("100000001", "kling-2.1-master", "A cat surfing a wave in slow motion", "failed"),
    ("100000001", "suno-v4.5", "Lo-fi beat for studying, rainy evening", "succeeded"),
    ("100000002", "flux-2-pro", "Portrait of an old fisherman, Rembrandt lighting", "succeeded"),
    ("100000002", "veo-3-fast", "Drone shot over a snowy forest", "timeout"),
    ("100000003", "flux-schnell", "A red bicycle against a yellow wall", "succeeded"),
]
DEMO_DOCUMENT = (
    "Opening hours: Monday to Friday 9:00 to 18:00, Saturday 10:00 to 14:00.\n\n"
    "Prices: an image costs from 4 RUB, a five-second video from 45 RUB, a song 8 RUB.\n\n"
    "Refunds: a failed generation is never charged; the held money returns to the balance."
)


@dataclass
class DemoReport:
    users_created: int = 0
    topups_credited: int = 0
    generations_created: int = 0
    project_items_added: int = 0
    assistant_created: bool = False

    def __str__(self) -> str:
        return (
            f"demo data: {self.users_created} users created ({len(DEMO_USERS) - self.users_created} already "
            f"there), {self.topups_credited} top-ups, {self.generations_created} generations, "
            f"{self.project_items_added} project items, assistant {'created' if self.assistant_created else 'kept'}"
        )


def demo_seed() -> DemoReport:
    """Idempotent: every step is keyed (user refs, Stars charge ids, 'has no jobs yet'), so a rerun adds nothing."""
    report = DemoReport()
    users: dict[str, EndUser] = {}
    with transaction.atomic():
        for index, (ref, profile) in enumerate(DEMO_USERS):
            referrer = DEMO_USERS[0][0] if index == 1 else None
            users[ref], created = end_user_upsert(ref=ref, profile=profile, referrer_ref=referrer)
            report.users_created += created
    for ref, charge_id, stars in DEMO_TOPUPS:
        _, credited = telegram_stars_credit(
            user=users[ref], charge_id=charge_id, total_amount=stars, invoice_payload="demo"
        )
        report.topups_credited += credited
    report.generations_created = _demo_generations(users)
    report.project_items_added = _demo_project(users[DEMO_USERS[0][0]])
    report.assistant_created = _demo_assistant(users[DEMO_USERS[0][0]])
    return report


def _demo_generations(users: dict[str, EndUser]) -> int:
    models = {
        model.code: model for model in AIModel.objects.filter(code__in={g[1] for g in DEMO_GENERATIONS})
    }
    with_jobs = set(
        Generation.objects.filter(user__in=users.values()).values_list("user_id", flat=True).distinct()
    )
    created = 0
    for ref, model_code, prompt, status in DEMO_GENERATIONS:
        user = users[ref]
        if user.pk in with_jobs or model_code not in models:
            continue
        generation = generations_services.generation_create(
            user=user, model_code=model_code, prompt=prompt, parameters={"demo": True}
        )
        generations_services.generation_status_set(
            generation_id=generation.pk, status=Generation.Status.PROCESSING, task_id=f"demo-{generation.pk}"
        )
        outcome = {"status": status}
        if status == Generation.Status.SUCCEEDED:
            outcome["result_url"] = f"https://files.example.com/demo/{generation.pk}.webp"
        else:
            outcome.update(error_code="provider_error", error_message="The provider gave up (demo).")
        generations_services.generation_status_set(generation_id=generation.pk, **outcome)
        created += 1
    return created


def _demo_project(user: EndUser) -> int:
    if Project.objects.filter(user=user, name="Demo project").exists():
        return 0
    project = generations_services.project_create(
        user=user, name="Demo project", description="A folder of a user's results."
    )
    generation_ids = Generation.objects.filter(user=user).order_by("pk").values_list("pk", flat=True)
    for generation_id in generation_ids:
        generations_services.project_item_add(project_id=project.pk, generation_id=generation_id)
    return len(generation_ids)


def _demo_assistant(user: EndUser) -> bool:
    from assistants.models import Assistant
    from assistants.services import assistant_create, document_upload

    if Assistant.objects.filter(owner=user, name="Demo assistant").exists():
        return False
    assistant = assistant_create(
        owner=user, name="Demo assistant", instructions="Answer questions about the studio politely."
    )
    document_upload(assistant=assistant, title="Studio FAQ", text=DEMO_DOCUMENT)
    return True
