"""Fake cloud credentials for tests of Azure Entra ID and Vertex AI: no network, no SDK import.

* `FakeAzureCredential` is an azure-identity ``TokenCredential``: hand it to
  ``persona_llm.providers.azure.sync_client(config, credential)`` (or ``async_client``) and
  its token reaches the ``Authorization`` header; it records the scopes it was asked for and
  can fail like ``DefaultAzureCredential`` does when it finds nothing.
* `FakeGoogleCredentials` stands for ``google.auth`` credentials: hand it to
  ``persona_llm.providers.gemini.adapter.sync_client(config, credentials)`` for a Vertex AI
  configuration (``ProviderEmulator.config_for("vertex")``).

To use them behind the facades, override the provider's SDK client in the container::

    config = container.settings().provider_config("vertex")
    container.vertex.sdk.override(providers.Object(sync_client(config, FakeGoogleCredentials())))
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

__all__ = ["FakeAccessToken", "FakeAzureCredential", "FakeGoogleCredentials"]

ENTRA_TEST_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0.ZmFrZS1zaWduYXR1cmU"
GOOGLE_TEST_TOKEN = "ya29.fake-access-token-for-tests"


class FakeAccessToken(NamedTuple):
    """The shape of azure-core's ``AccessToken``: the token and its expiry (epoch seconds)."""

    token: str
    expires_on: int


class FakeAzureCredential:
    """A ``TokenCredential`` that hands out `token` and records the scopes asked for.

    Args:
        token: the bearer token (a JWT-shaped string by default, so redaction sees its shape).
        fail: raise instead, as ``DefaultAzureCredential`` does when no credential is found.
    """

    __test__ = False

    def __init__(self, token: str = ENTRA_TEST_TOKEN, *, fail: bool = False) -> None:
        self.token = token
        self.fail = fail
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> FakeAccessToken:
        """A token valid for an hour (azure-identity's `get_bearer_token_provider` calls this)."""
        self.scopes.append(scopes)
        if self.fail:
            raise RuntimeError("FakeAzureCredential: no credential available (fail=True)")
        return FakeAccessToken(self.token, int(time.time()) + 3600)


class FakeGoogleCredentials:
    """Always-valid Google OAuth credentials with a fixed access token (no refresh traffic)."""

    __test__ = False

    def __init__(self, token: str = GOOGLE_TEST_TOKEN) -> None:
        self.token = token
        self.expired = False
        self.valid = True
        self.quota_project_id: str | None = None
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        """Count the refresh; the token stays the same."""
        self.refreshes += 1

    def before_request(self, request: Any, method: str, url: str, headers: Any) -> None:
        """Add the bearer token, as google.auth credentials do."""
        headers["authorization"] = f"Bearer {self.token}"
