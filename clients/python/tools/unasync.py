"""Writes src/botdesk_client/_sync_client.py from _async_client.py (one source for both clients).

python clients/python/tools/unasync.py           # rewrite the sync client
python clients/python/tools/unasync.py --check   # exit 1 when it is out of date (a test runs this)
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "botdesk_client"
SOURCE = PACKAGE / "_async_client.py"
TARGET = PACKAGE / "_sync_client.py"

# Order matters: longer names first.
REPLACEMENTS = [
    (
        r'"""The asynchronous client\. .*?"""',
        '"""The synchronous client. Generated from _async_client.py by tools/unasync.py: do not edit."""',
    ),
    (r"\bAsyncBotdeskClient\b", "BotdeskClient"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAwaitable\[(Page\[Any\])\]", r"\1"),
    (r", Awaitable, Callable\b", ", Callable"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"^import asyncio$", "import time"),
]


def render() -> str:
    text = SOURCE.read_text()
    for pattern, replacement in REPLACEMENTS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE | re.DOTALL)
    # Lines shorten without `await`: the formatter (the project's ruff) decides how they wrap now.
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        raise SystemExit("ruff is needed to format the generated client (pip install ruff)")
    for command in (["check", "--select", "I", "--fix"], ["format"]):
        text = subprocess.run(
            [ruff, *command, "--stdin-filename", str(TARGET), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return text


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
