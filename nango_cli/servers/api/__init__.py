"""`nango-hooks api`: the Nango API a handler calls back, served locally."""

from nango_cli.servers.api.server import INTERNAL, TOKEN_HEADER, ApiOptions, ApiServer

__all__ = ["INTERNAL", "TOKEN_HEADER", "ApiOptions", "ApiServer"]
