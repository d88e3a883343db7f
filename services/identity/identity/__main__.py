"""python -m identity migrate | worker | seed-demo [--timeout SECONDS]"""
import argparse
import sys

from servicekit.errors import ServiceError
from servicekit.runtime import Runtime, command_line

from .adapters.keycloak_directory import KeycloakUserDirectory
from .handlers import HANDLERS
from .runtime import build_runtime
from .service.seed import DepartmentsNotReceived, seed_demo


def seed_demo_command(runtime: Runtime, args: list[str]) -> int:
    """Create the demo users (idempotent) and print their logins."""
    parser = argparse.ArgumentParser(prog="python -m identity seed-demo")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for the demo department to reach identity (default 60)")
    options = parser.parse_args(args)
    try:
        results = seed_demo(runtime.uow, KeycloakUserDirectory(runtime.settings), timeout=options.timeout)
    except DepartmentsNotReceived as exc:
        print(f"seed-demo: {exc}", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"seed-demo: {exc.detail}", file=sys.stderr)
        return 1
    settings = runtime.settings
    print(f"demo logins (Keycloak {settings.keycloak_url}, realm {settings.keycloak_realm}):")
    for result in results:
        user = result.user
        print(f"  {user.description:<32} {user.username:<10} {user.password:<22} ({result.outcome})")
    return 0


def worker_command(runtime: Runtime, _args: list[str]) -> int:
    """Outbox relay, consumers and the overdue-review reminder (issue 5)."""
    from .worker import run

    run(runtime)
    return 0


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # servicekit's own `worker` runs relay and consumers only; ours adds the review reminder.
    if args[:1] == ["worker"]:
        args[0] = "identity-worker"
    return command_line(build_runtime, handlers=HANDLERS, argv=args,
                        commands={"seed-demo": seed_demo_command, "identity-worker": worker_command})


if __name__ == "__main__":
    sys.exit(main())
