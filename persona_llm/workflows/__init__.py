"""The Persona application's LLM workflows, built on the library's public surface.

`graph` (node extraction, relationships, communities, insights, grounded answers), its `tasks`
(prompts and validation, no I/O), `types`, `prompts`, `embeddings` helpers, and `aio`, the
asyncio twins. Nothing in the library below imports this package.
"""
