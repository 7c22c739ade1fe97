"""Progress bars and messages of the long management commands.

A service that takes a while accepts ``bar``, a factory called like tqdm's
(``with bar(total=n, desc="...", unit="...") as progress: progress.update(k)``); its default, ``NoBar``, shows
nothing. A command builds a ``CommandOutput`` from its options: tqdm bars on its stderr at verbosity 1 or more when
stderr is a terminal (``--progress on`` forces them, ``off`` hides them), and its messages on stdout unless
``--verbosity 0``, which leaves only errors.
"""

from collections.abc import Callable
from functools import partial

from django.core.management.base import BaseCommand
from tqdm import tqdm

PROGRESS_CHOICES = ("auto", "on", "off")


class NoBar:
    """A progress bar that shows nothing: what services use when nobody watches."""

    def __init__(self, iterable=None, **options) -> None:
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self) -> "NoBar":
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


BarFactory = Callable[..., NoBar | tqdm]


def add_progress_argument(parser) -> None:
    parser.add_argument(
        "--progress",
        choices=PROGRESS_CHOICES,
        default="auto",
        help="progress bars on stderr: auto (default) shows them when stderr is a terminal and --verbosity is 1 or "
        "more; on shows them whenever --verbosity is 1 or more; off never",
    )


def _stream(wrapper):
    """The file under a command's OutputWrapper: tqdm redraws its line with carriage returns, which the wrapper's
    ``write`` would end with a newline each."""
    return getattr(wrapper, "_out", wrapper)


class CommandOutput:
    """A command's progress bars (``bar``) and messages (``say``), as its ``--verbosity`` and ``--progress`` ask."""

    def __init__(self, command: BaseCommand, options: dict) -> None:
        self.command = command
        self.verbosity = int(options.get("verbosity", 1))
        mode = options.get("progress", "auto")
        stderr = _stream(command.stderr)
        self.bars = self.verbosity >= 1 and (mode == "on" or (mode == "auto" and stderr.isatty()))
        self.bar: BarFactory = (
            partial(tqdm, file=stderr, dynamic_ncols=True, mininterval=0.5, leave=True) if self.bars else NoBar
        )

    def say(self, message: str) -> None:
        """Print ``message`` on stdout unless ``--verbosity 0``, above any bar being drawn."""
        if self.verbosity < 1:
            return
        if self.bars:
            tqdm.write(message, file=_stream(self.command.stdout))
        else:
            self.command.stdout.write(message)
