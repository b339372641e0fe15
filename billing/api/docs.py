"""OpenAPI additions shared by the billing routers (the header is read by billing.idempotency)."""


def idempotency_key_doc(*, required: bool) -> dict:
    return {
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": required,
                "schema": {"type": "string", "maxLength": 255},
                "description": "A repeat with the same key and body replays the first answer; "
                "another body under the same key is 409 idempotency_key_reused.",
            }
        ]
    }
