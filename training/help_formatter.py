"""The `--help` of every command: each flag's default shown, examples kept as written."""

import argparse
import copy


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description's line breaks kept; every option with a default says it, also one with
    no help text (argparse's `ArgumentDefaultsHelpFormatter` prints nothing for those, and
    "default: None" for flags that have no default)."""

    def _format_action(self, action):
        if not action.help and self._has_default(action):
            action = copy.copy(action)
            action.help = f"default: {action.default}"
        return super()._format_action(action)

    def _get_help_string(self, action):
        help = action.help or ""
        if "default" in help or not self._has_default(action):
            return help
        return f"{help} (default: %(default)s)"

    @staticmethod
    def _has_default(action):
        return (bool(action.option_strings) and not isinstance(action, argparse._HelpAction)
                and not any(action.default is none for none in (None, False, argparse.SUPPRESS)))
