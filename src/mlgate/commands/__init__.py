"""One thin module per subcommand: click options, building the config, calling the core."""
