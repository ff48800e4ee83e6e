from ltrl_cli import signals

signals.install()  # before anything else loads (ltrl_cli.cli does it again, for the `ltrl` script)
try:
    import sys

    from ltrl_cli.cli import main
except BaseException:
    signals.stop_now_if_signalled()
    raise

if __name__ == "__main__":
    sys.exit(main())
