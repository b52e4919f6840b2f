"""The chat app of the example: a sync and an async view over persona-llm."""
