"""Message dialects: the wire formats several providers share, read once.

``anthropic`` is the Messages API shape: the Anthropic client, Claude bodies on Bedrock's InvokeModel and
LangChain's Anthropic-shaped content all read through it. Readers take parsed JSON and pydantic objects
alike (``core.readers.get``), so a client's typed results need no conversion.
"""

__all__: list[str] = []  # nothing public here
