"""Writers that turn a command's typed result into Markdown, JSON and other report formats."""
