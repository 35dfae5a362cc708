"""`python -m bench <benchmark> [options]`: one subcommand per benchmark."""

from __future__ import annotations

import argparse
import sys

from bench import all as everything
from bench import api, delivery, email, pages, peer, publish, recognition, routing, sweep

# Each benchmark module provides `add_arguments(parser)` and `run(args) -> int`.
BENCHMARKS = {
    "all": everything,
    "api": api,
    "delivery": delivery,
    "email": email,
    "pages": pages,
    "peer": peer,
    "publish": publish,
    "recognition": recognition,
    "routing": routing,
    "sweep": sweep,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Redress benchmarks on PostgreSQL (see bench/README.md).",
    )
    commands = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, module in BENCHMARKS.items():
        doc = (module.__doc__ or "").strip().splitlines()[0]
        sub = commands.add_parser(
            name,
            help=doc,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
    args = parser.parse_args(argv)
    return BENCHMARKS[args.benchmark].run(args)


if __name__ == "__main__":
    sys.exit(main())
