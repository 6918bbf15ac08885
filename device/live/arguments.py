"""Command-line options of anything that reads a camera: where frames come from, and the web view.

Shared by ``device live`` and ``device collect --live``. Only argparse here; the parsers of the values
are imported when a value is parsed, so building the ``device`` command stays quick.
"""

from __future__ import annotations

import argparse

from device.common.argtypes import parsed_by

SOURCE_HELP = "picamera (default), usb:N, a video file, an image or a folder of images"


def _serve_address(text: str) -> tuple[str, int]:
    from device.live.web import parse_serve_address

    return parse_serve_address(text)


def add_source_argument(parser: argparse.ArgumentParser, what: str = "") -> None:
    """``--source``: where frames come from (default: the Raspberry Pi camera); ``--loop``: replay a file."""
    parser.add_argument("--source", "-s", default="picamera", help=f"{what}{SOURCE_HELP}")
    parser.add_argument("--loop", action="store_true",
                        help="start a video, an image or a folder over at its end, until stopped (not for cameras)")


def add_serve_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--serve [HOST:]PORT``, parsed into (host, port): a web view on this address; and who may see it:
    ``--token``, ``--no-auth``, ``--allow-host`` (see ``device.live.web.web_view_for``)."""
    web = parser.add_argument_group("web view")
    web.add_argument("--serve", metavar="[HOST:]PORT", type=parsed_by(_serve_address),
                     help=f"{what} (HOST defaults to 127.0.0.1, this machine only; 0.0.0.0 for every network, "
                          "which needs a token: one is made and printed with the address)")
    web.add_argument("--token", metavar="TOKEN", default=None,
                     help="the web view's token instead of a new random one (or set $ZMG_WEB_TOKEN)")
    web.add_argument("--no-auth", action="store_true",
                     help="serve on the network without a token: anyone who can reach this machine sees the camera")
    web.add_argument("--allow-host", metavar="NAME", action="append", default=[],
                     help="another name browsers use for this machine (a DNS name, a proxy); repeatable")
