"""The models that exist after migrate; operators edit prices and switch models off in the admin."""

from decimal import Decimal

DEFAULT_MODELS = [
    {"code": "flux-2-pro", "name": "FLUX.2 [pro]", "category": "image", "provider": "bfl", "price": "6.00"},
    {
        "code": "flux-schnell",
        "name": "FLUX.1 [schnell]",
        "category": "image",
        "provider": "replicate",
        "price": "0.00",
    },
    {"code": "recraft-v3", "name": "Recraft V3", "category": "image", "provider": "fal", "price": "4.00"},
    {
        "code": "kling-2.1-master",
        "name": "Kling 2.1 Master (5 s)",
        "category": "video",
        "provider": "kling",
        "price": "45.00",
    },
    {
        "code": "veo-3-fast",
        "name": "Veo 3 Fast (8 s)",
        "category": "video",
        "provider": "google",
        "price": "90.00",
    },
    {"code": "suno-v4.5", "name": "Suno v4.5", "category": "audio", "provider": "suno", "price": "8.00"},
    {"code": "gpt-4o-mini", "name": "GPT-4o mini", "category": "text", "provider": "openai", "price": "0.50"},
    # Kept for the history of old jobs; no longer sold.
    {
        "code": "sdxl",
        "name": "Stable Diffusion XL",
        "category": "image",
        "provider": "replicate",
        "price": "2.00",
        "is_active": False,
    },
]


def ai_models_ensure_defaults(model_class=None) -> None:
    """Creates the default models that are missing; never overwrites an operator's edits."""
    if model_class is None:
        from generations.models import AIModel as model_class
    for order, spec in enumerate(DEFAULT_MODELS):
        price = Decimal(spec["price"])
        model_class.objects.get_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "category": spec["category"],
                "provider": spec["provider"],
                "price": price,
                "currency": "RUB",
                "is_free": price == 0,
                "is_active": spec.get("is_active", True),
                "sort_order": order,
            },
        )
