"""``python -m outgrow``."""

from outgrow.cli import main

main()
