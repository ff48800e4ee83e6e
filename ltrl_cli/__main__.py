import sys

from ltrl_cli.cli import main

sys.exit(main())
