"""Features over the adapter interface: structured output, tools and the tool loop, streaming.

Nothing here knows a provider or the container; each works with any object that has the
chat client's `chat` method (see `persona_llm.features.structured.SupportsChat`).
"""
