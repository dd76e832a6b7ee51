"""`python -m llamasys.apps.gradio_app`: the same as `llamasys app`."""

from llamasys.apps.cli import main

if __name__ == "__main__":
    import sys

    sys.argv[1:1] = ["app"]
    main()
