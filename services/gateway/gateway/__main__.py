"""python -m gateway serve: the gateway's web process (gateway/server.py)."""
import sys

USAGE = "usage: python -m gateway serve"


def main(argv: list[str]) -> int:
    if argv != ["serve"]:
        print(USAGE, file=sys.stderr)
        return 2
    from .server import serve

    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
