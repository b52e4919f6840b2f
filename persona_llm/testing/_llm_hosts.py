"""The hosts that bill LLM calls: what the pytest plugin's default network guard blocks.

The default guard (``persona_llm_network_guard = llm``) protects a test suite from real,
billed provider calls without touching the rest of the project's traffic (a Neo4j or
Postgres container in an integration test). Blocked, by name:

* the four providers' public API hosts: ``api.openai.com``, ``api.anthropic.com``,
  ``generativelanguage.googleapis.com``, and Vertex AI (``aiplatform.googleapis.com`` and its
  regional ``<location>-aiplatform.googleapis.com``);
* Azure OpenAI and AI Foundry resources: ``*.openai.azure.com``,
  ``*.cognitiveservices.azure.com``, ``*.services.ai.azure.com``, ``*.inference.ai.azure.com``;
* the hosted OpenAI-compatible presets' hosts (OpenRouter, Groq, Mistral, DeepSeek);
* the host of every base URL in the environment: any ``*_BASE_URL`` or ``*_API_BASE``
  variable (profiles such as ``US_AZURE_API_BASE`` included; a comma-separated list too),
  read at each check, so a test that sets ``OPENAI_BASE_URL`` is covered at once.

Loopback is never blocked. A name is matched before it is resolved (the DNS lookup is
refused), so a provider reached through an HTTP proxy (``HTTPS_PROXY``) is not seen: block
everything (``all``) in such environments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from persona_llm._services import OPENAI_COMPATIBLE
from persona_llm.testing.network_guard import is_local_address

__all__ = ["llm_host_matcher"]

_PUBLIC_HOSTS = frozenset(
    {
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "aiplatform.googleapis.com",
        *(urlsplit(url).hostname or "" for url, _ in OPENAI_COMPATIBLE.values()),
    }
) - {""}
_PATTERNS = re.compile(
    r"(?:[a-z0-9-]+-aiplatform\.googleapis\.com"
    r"|.+\.(?:openai\.azure\.com|cognitiveservices\.azure\.com"
    r"|services\.ai\.azure\.com|inference\.ai\.azure\.com))"
)
_URL_VARIABLE = re.compile(r".+_(?:BASE_URL|API_BASE)")


def _hosts_in(value: str) -> set[str]:
    hosts = set()
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        host = urlsplit(text if "://" in text else f"https://{text}").hostname
        if host:
            hosts.add(host.lower())
    return hosts


def llm_host_matcher(environ: Mapping[str, str]) -> Callable[[str], bool]:
    """A test of whether a host name is an LLM provider's (rules: module doc).

    `environ` is read at each call (the plugin passes ``os.environ``), for the base URLs.
    """

    def is_llm_host(host: str) -> bool:
        name = host.strip().strip("[]").rstrip(".").lower()
        if is_local_address(name):
            return False
        if name in _PUBLIC_HOSTS or _PATTERNS.fullmatch(name):
            return True
        configured = (v for k, v in environ.items() if _URL_VARIABLE.fullmatch(k.upper()))
        return any(name in _hosts_in(value) for value in configured)

    return is_llm_host
