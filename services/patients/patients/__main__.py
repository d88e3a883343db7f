"""python -m patients migrate | worker | load-reference [FILE] | new-key"""
import json
import sys

from servicekit.runtime import Runtime, command_line

from .runtime import build_runtime
from .service.organisation import bundled_organisation, load_organisation
from .settings import new_key


def load_reference(runtime: Runtime, args: list[str]) -> int:
    """Load the organisation (bundled, or a JSON file given as argument)."""
    document = json.loads(open(args[0], encoding="utf-8").read()) if args else bundled_organisation()
    with runtime.uow() as uow:
        report = load_organisation(uow, document)
    print(f"departments: {report.created} created, {report.changed} changed, {report.unchanged} unchanged")
    return 0


def worker(runtime: Runtime, _args: list[str]) -> int:
    """Outbox relay and the periodic expiry of transfer requests."""
    from .worker import run

    run(runtime)
    return 0


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["new-key"]:
        # A fresh random key for PATIENTS_CPR_KEY or PATIENTS_CPR_HASH_KEY; needs no settings.
        print(new_key())
        return 0
    # servicekit's own `worker` runs relay and consumers only; ours adds the expiry job.
    if args[:1] == ["worker"]:
        args[0] = "patients-worker"
    return command_line(build_runtime, handlers={}, argv=args,
                        commands={"load-reference": load_reference, "patients-worker": worker})


if __name__ == "__main__":
    sys.exit(main())
