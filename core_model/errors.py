"""The core_model exception family. Every message says what was wrong and what to do about it."""


class ModelError(Exception):
    """Base of everything core_model raises on purpose."""


class CheckpointError(ModelError):
    """A checkpoint is missing, unknown, corrupt or the wrong shape. Name the file and the problem."""


class TokenizerError(ModelError):
    """A tokenizer file is missing or unreadable, or a token is not in the vocabulary."""


class UnknownModelError(ModelError):
    """A catalogue id that the catalogue does not know."""


class SequenceTooLongError(ModelError):
    """A prompt plus its generation budget does not fit in the engine's max_seq_len."""


class ModelNotDownloadedError(ModelError):
    """A catalogue model that is not on this machine; the message says which command fetches it."""


class DownloadError(ModelError):
    """Fetching a model failed (no access, no network, a checksum mismatch); the message says why."""
