"""Import shims for applications migrating to persona-llm (see ``docs/migrating.md``)."""
