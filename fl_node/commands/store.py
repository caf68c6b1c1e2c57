"""``fl-node store create``: the federation operator's one-time set-up of a shared store."""

from __future__ import annotations

import argparse

from fl_node.commands.common import STORE_OPTION_HELP, help_handler


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "store",
        help="set up the artifact store a federation shares",
        description="The artifact store holds the models, the updates and the results tables "
        "every participant reads; each participant writes under its own prefix. Nothing but this "
        "command creates a bucket or a store folder on purpose.",
    )
    ssub = p.add_subparsers(dest="store_command", metavar="<action>")
    create = ssub.add_parser(
        "create",
        help="create the store's bucket (s3://) or folder (a path or file://)",
        description="Create the bucket of an s3:// store (on an S3-compatible service such as "
        "MinIO; on AWS, create buckets with its own tools and policies) or the folder of a local "
        "store. An existing bucket or folder is left as it is.",
    )
    create.add_argument("url", metavar="URL", help="s3://BUCKET[/PREFIX], file://PATH or a path")
    create.add_argument(
        "--store-option", action="append", default=[], metavar="KEY=VALUE", help=STORE_OPTION_HELP
    )
    create.set_defaults(handler=run_create)
    p.set_defaults(handler=help_handler(p))


def run_create(args: argparse.Namespace) -> int:
    import fsspec

    from fl_node.artifacts import s3
    from fl_node.artifacts.shared import open_shared_store, parse_options

    url: str = args.url
    protocol = fsspec.core.split_protocol(url)[0] or "file"
    if s3.is_s3(protocol):
        made = s3.create_bucket(url, parse_options(args.store_option))
        print(f"{'created' if made else 'already there:'} bucket of {url}")
    open_shared_store(url, args.store_option)  # a local folder is made here; S3 is checked
    print(f"store {url} is ready")
    return 0
