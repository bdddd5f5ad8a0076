"""``python -m slipway_worker --model DIR --listen unix:/run/w.sock`` loads a model and serves it; one JSON line
on stdout says when it is ready (or exit code 3 and a sentence on stderr when the model cannot be loaded)."""

import argparse
import os
import signal
import sys
import threading
import time

from . import runtimes
from .server import ModelServer, announce, serve


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="slipway_worker", description="Serve one model over Slipway's worker protocol.")
    parser.add_argument("--model", required=True, help="the model's folder")
    parser.add_argument("--runtime", default="auto", choices=("auto", *runtimes.RUNTIMES))
    parser.add_argument("--listen", default="tcp:127.0.0.1:0", help="unix:PATH or tcp:HOST:PORT (port 0: any free one)")
    parser.add_argument("--name", default="model", help="the model's name in metadata answers")
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this process (the agent) is gone")
    arguments = parser.parse_args(argv)
    if arguments.parent_pid:
        watch_parent(arguments.parent_pid)
    try:
        runtime = runtimes.load(arguments.model, arguments.runtime)
    except Exception as error:
        print(f"slipway_worker: the model in {arguments.model} cannot be loaded: {type(error).__name__}: {error}", file=sys.stderr)
        return 3
    # A supervisor may start us with signals blocked (a parent thread's mask is inherited): take them back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ModelServer(runtime, name=arguments.name)
    serve(server, arguments.listen, ready=lambda address: announce(address, runtime, arguments.name))
    return 0


def watch_parent(pid: int) -> None:
    """Ends the worker when its agent is gone (killed without a chance to stop it), so no orphan keeps a port and memory."""

    def watch():
        while True:
            if os.getppid() != pid:
                os._exit(0)
            time.sleep(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
