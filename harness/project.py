"""Where the project is, and this clone's local secrets."""

import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def local_secret(name: str) -> str:
    """One of this clone's local secrets (scripts/secret.sh), e.g. a broker user's password."""
    return subprocess.run(
        [str(PROJECT_DIR / "scripts" / "secret.sh"), name],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
