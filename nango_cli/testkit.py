"""`nango_cli.testkit`, the kit's documented import path: it lives in
nango_cli/testing/kit.py."""

from nango_cli.testing.kit import NangoKit

__all__ = ["NangoKit"]
