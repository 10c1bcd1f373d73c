"""One module per kind of place an image reference lives, all behind the Kind protocol."""
