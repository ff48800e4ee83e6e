import sys

from ltrl_cli.cli import main

if __name__ == "__main__":
    sys.exit(main())
