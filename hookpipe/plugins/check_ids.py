"""The check ids of handler and responder configuration, each written once here;
docs/checks.rst describes them."""

from __future__ import annotations

from typing import Final

BAD_PLUGIN_ENTRY: Final = "hookpipe.E030"
PLUGIN_IMPORT_FAILED: Final = "hookpipe.E031"
NOT_A_PLUGIN: Final = "hookpipe.E032"
NAME_NOT_SET: Final = "hookpipe.E033"
BAD_NAME: Final = "hookpipe.E034"
DUPLICATE_NAME: Final = "hookpipe.E035"
BAD_SUBCONFIG: Final = "hookpipe.E036"
BAD_PLUGIN_SETTINGS: Final = "hookpipe.E037"
MISSING_VALUE: Final = "hookpipe.E038"
BAD_VALUE: Final = "hookpipe.E039"
ENV_CLASH: Final = "hookpipe.E040"
BAD_METHOD: Final = "hookpipe.E041"
BAD_METHODS_FILTER: Final = "hookpipe.E042"
BAD_PATH_FILTER: Final = "hookpipe.E043"
UNUSED_PLUGIN_SETTINGS: Final = "hookpipe.W030"
