"""The Django project of the persona-llm example."""
