"""`python -m timecoin.cli`: the same as the `timecoin` command."""

from timecoin.cli.main import main

main()
