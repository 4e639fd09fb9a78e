"""The `timecoin` command."""
