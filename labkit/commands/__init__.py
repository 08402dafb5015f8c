"""Subcommands of the ``labkit`` CLI: each module has HELP, add_arguments(parser), run(args)."""
