"""The error of a request that cannot be made (ops/requests.py raises it), apart so that the entry point
and `cluster status` know it without loading every request's dataclass."""
from __future__ import annotations


class RequestError(ValueError):
    """A typed-in value that cannot be used; str() is one line naming the value."""
