"""python -m patients migrate | worker | load-reference"""
import json
import sys

from servicekit.runtime import Runtime, command_line

from .runtime import build_runtime
from .service.organisation import bundled_organisation, load_organisation


def load_reference(runtime: Runtime, args: list[str]) -> int:
    """Load the organisation (bundled, or a JSON file given as argument)."""
    document = json.loads(open(args[0], encoding="utf-8").read()) if args else bundled_organisation()
    with runtime.uow() as uow:
        report = load_organisation(uow, document)
    print(f"departments: {report.created} created, {report.changed} changed, {report.unchanged} unchanged")
    return 0


def main(argv=None) -> int:
    return command_line(build_runtime, handlers={}, commands={"load-reference": load_reference}, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
