"""Gemini on Vertex AI: Google credentials and the project a google-genai client needs.

``LLM_SERVICE=vertex/<model>`` (or ``GEMINI_VERTEX=true``) builds the google-genai client with
``vertexai=True``, a project and a location (``GOOGLE_CLOUD_PROJECT``,
``GOOGLE_CLOUD_LOCATION``, default ``global``) and Google credentials: the service-account file
named by ``GOOGLE_APPLICATION_CREDENTIALS``, else Application Default Credentials (``gcloud auth
application-default login``, a metadata server, workload identity). The project defaults to the
credentials' own. Requests go to ``https://<location>-aiplatform.googleapis.com/v1/projects/
<project>/locations/<location>/publishers/google/models/<model>:generateContent`` (and
``:streamGenerateContent``, ``:batchEmbedContents``/``:embedContent``/``:predict``).
"""

from __future__ import annotations

from typing import Any

from persona_llm.errors import (
    AuthenticationError,
    ConfigurationError,
    LLMError,
    PermissionDeniedError,
)
from persona_llm.settings import ProviderConfig

__all__ = [
    "VERTEX_API_VERSION",
    "VERTEX_SCOPE",
    "is_google_auth_error",
    "vertex_access_error",
    "vertex_auth",
]

VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
VERTEX_API_VERSION = "v1"
"""The Vertex AI API version used unless `ProviderConfig.api_version` names another."""

_HOW = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account JSON file, or run where a metadata server provides credentials"
)


def _file_credentials(path: str) -> tuple[Any, str | None]:
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            path, scopes=[VERTEX_SCOPE]
        )
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is not a readable service-account JSON "
            f"file ({type(exc).__name__}); fix the path or unset it to use ADC",
            provider="vertex",
        ) from None
    return credentials, getattr(credentials, "project_id", None)


def _default_credentials() -> tuple[Any, str | None]:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, project = google.auth.default(scopes=[VERTEX_SCOPE])
    except DefaultCredentialsError:
        raise ConfigurationError(
            f"Vertex AI needs Google credentials and none were found: {_HOW}",
            provider="vertex",
        ) from None
    return credentials, project


def vertex_auth(config: ProviderConfig, credentials: Any = None) -> tuple[Any, str]:
    """The credentials and project of a Vertex AI client.

    Args:
        credentials: ``google.auth`` credentials to use as they are (tests pass a fake);
            else the file of `config.credentials_file`, else Application Default Credentials.

    Raises:
        ConfigurationError: no credentials found, an unreadable credentials file, or no
            project (neither ``GOOGLE_CLOUD_PROJECT`` nor the credentials name one).
    """
    project = config.project
    if credentials is None:
        if config.credentials_file:
            credentials, found = _file_credentials(config.credentials_file)
        else:
            credentials, found = _default_credentials()
        project = project or found
    if not project:
        raise ConfigurationError(
            "Vertex AI needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT "
            "(and GOOGLE_CLOUD_LOCATION, default 'global')",
            provider="vertex",
        )
    return credentials, project


def is_google_auth_error(exc: BaseException) -> bool:
    """Whether `exc` is google-auth failing to give or refresh a token (``RefreshError``...)."""
    from google.auth.exceptions import GoogleAuthError

    return isinstance(exc, GoogleAuthError)


def vertex_access_error(
    status: int | None, message: str, config: ProviderConfig, model: str
) -> LLMError:
    """Vertex AI's own access errors, with what to fix.

    401 ``UNAUTHENTICATED`` (and a token that could not be refreshed) means the credentials;
    403 ``PERMISSION_DENIED`` means the principal's role or the API not enabled in the project.
    """
    where: dict[str, Any] = {"provider": "gemini", "model": model, "status_code": status}
    if status == 403:
        return PermissionDeniedError(
            f"{message} — on Vertex AI the credentials' principal needs the Vertex AI User role "
            f"(roles/aiplatform.user) in project {config.project!r}, and the Vertex AI API "
            "(aiplatform.googleapis.com) must be enabled there",
            **where,
        )
    return AuthenticationError(
        f"{message} — the Google credentials were refused or could not be refreshed: {_HOW}",
        **where,
    )
