"""`python -m deidlang` is the `deidlang` command."""

from .cli import entrypoint

if __name__ == "__main__":
    entrypoint()
