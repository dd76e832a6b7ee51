"""The memory package's exceptions: each message says what to do next."""

from __future__ import annotations

from llamasys.tools.base import ToolError


class MemoryBankError(ToolError):
    """Base of every error raised by `llamasys.tools.memory`."""


class UnknownBankError(MemoryBankError, KeyError):
    """A bank name that is not in the store."""

    def __init__(self, name: str, known: list[str]) -> None:
        listing = ", ".join(repr(n) for n in known) if known else "none yet"
        super().__init__(
            f"memory bank {name!r} does not exist (banks in this store: {listing}); "
            f"create it first with store.create_bank({name!r})"
        )
        self.name = name

    def __str__(self) -> str:  # KeyError would otherwise print the message with quotes around it
        return str(self.args[0])


class BankExistsError(MemoryBankError):
    """create_bank on a name that is taken."""


class UnknownDocumentError(MemoryBankError, KeyError):
    """A document id that is not in the bank."""

    def __str__(self) -> str:
        return str(self.args[0])


class EmbedderMismatchError(MemoryBankError):
    """The bank was filled by another embedder: its vectors and the query's would not be comparable."""


class DocumentReadError(MemoryBankError):
    """A file or payload that could not be turned into text (empty, binary, PDF without text, ...)."""


class UnsupportedDocumentError(DocumentReadError):
    """A file type the readers do not handle."""
