"""The app's configuration: builds and wires the app's persona-llm container at start-up."""

from __future__ import annotations

from dependency_injector import providers
from django.apps import AppConfig
from django.conf import settings

from persona_llm import Container
from persona_llm.settings import load_settings


class PersonaChatConfig(AppConfig):
    """Owns the container the views take their LLM clients from.

    The container is the app's own, configured from ``settings.PERSONA_LLM``, so the
    library's global default container stays untouched. Tests override its providers:
    ``apps.get_app_config("persona_chat").container.chat_client.override(...)``.
    """

    name = "persona_chat"
    container: Container

    def ready(self) -> None:
        """Configure the container (bad settings fail here, at start-up) and wire the views."""
        self.container = Container()
        configured = load_settings(**getattr(settings, "PERSONA_LLM", {}))
        self.container.settings.override(providers.Object(configured))
        self.container.wire(modules=["persona_chat.views"])
