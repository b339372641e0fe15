"""Where the AI work happens. The example ships a fake; plug a real provider in with the same protocol."""

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ProviderResult:
    ok: bool
    result_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None


class GenerationProvider(Protocol):
    async def run(self, *, model: str, prompt: str, parameters: dict[str, Any]) -> ProviderResult: ...


class FakeProvider:
    """Completes every job at once with a deterministic URL; a prompt containing `fail` fails, so the
    failure path (the hold is released, nothing is charged) can be tried from Telegram too."""

    def __init__(self, base_url: str = "https://cdn.example.com/fake") -> None:
        self.base_url = base_url.rstrip("/")

    async def run(self, *, model: str, prompt: str, parameters: dict[str, Any]) -> ProviderResult:
        await asyncio.sleep(0)
        if "fail" in prompt.lower():
            return ProviderResult(
                ok=False, error_code="fake_failure", error_message="asked to fail", duration_ms=1
            )
        digest = hashlib.sha256(f"{model}:{prompt}".encode()).hexdigest()[:16]
        return ProviderResult(ok=True, result_url=f"{self.base_url}/{digest}.png", duration_ms=1)
