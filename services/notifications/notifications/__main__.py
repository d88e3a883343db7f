"""python -m notifications migrate | worker"""
import sys

from servicekit.runtime import command_line

from .handlers import HANDLERS
from .runtime import build_runtime


def main(argv=None) -> int:
    return command_line(build_runtime, handlers=HANDLERS, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
