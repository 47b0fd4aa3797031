"""Lets `python3 -m formmail` run the command-line interface."""

import sys

from formmail.cli import main

sys.exit(main())
