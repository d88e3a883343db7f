"""python -m web migrate: create or upgrade the session table."""
import argparse
import sys
from pathlib import Path

from servicekit.config import ConfigError, load
from servicekit.migrations import upgrade

from .settings import WebSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    try:
        settings = load(WebSettings, "web")
    except ConfigError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    upgrade(MIGRATIONS_DIR, settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
