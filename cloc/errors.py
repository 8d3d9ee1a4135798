"""The one exception type users see from cloc's command lines."""


class ClocError(ValueError):
    """A problem with the user's arguments, data or environment.

    The message says what is wrong and what to do about it; the CLI prints it without a
    traceback and exits with status 2.
    """


class TrainingInterrupted(RuntimeError):
    """Raised by the debug hook ``CLOC_INTERRUPT_AFTER_EPOCH`` to simulate a killed job
    (the epoch's checkpoint has been written)."""
