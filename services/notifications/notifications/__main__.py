"""python -m notifications migrate | worker | mailbox"""
import sys

from servicekit.runtime import Runtime, command_line

from .runtime import build_runtime


def worker(runtime: Runtime, _args: list[str]) -> int:
    """Outbox relay, consumers and the dispatcher that sends queued messages."""
    from .worker import run

    run(runtime)
    return 0


def mailbox(runtime: Runtime, _args: list[str]) -> int:
    """The development mailbox (SMTP server + page); refuses unless NOTIFICATIONS_DEV_MAILBOX is on."""
    from .devmailbox import serve

    return serve(runtime.settings)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # servicekit's own `worker` runs relay and consumers only; ours adds the dispatcher.
    if args[:1] == ["worker"]:
        args[0] = "notifications-worker"
    return command_line(build_runtime, handlers={}, argv=args,
                        commands={"notifications-worker": worker, "mailbox": mailbox})


if __name__ == "__main__":
    sys.exit(main())
