"""Chat models behind any OpenAI-compatible endpoint: settings, the client, its cache and costs.

`ChatClient.complete` is the only place taugepa talks to an LLM (retries, deadlines, the
response cache, usage and prices); `LLMConfig` says where the agent's and the user
simulator's models are, naming keys by environment variable only.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_BASE_URL": "taugepa.llm.config",
    "DEFAULT_API_KEY_ENV": "taugepa.llm.config",
    "DEFAULT_TIMEOUT_S": "taugepa.llm.config",
    "DEFAULT_MAX_RETRIES": "taugepa.llm.config",
    "DEFAULT_RETRY_DELAY_S": "taugepa.llm.config",
    "LLMConfigError": "taugepa.llm.config",
    "LLMConfig": "taugepa.llm.config",
    "resolve_base_url": "taugepa.llm.config",
    "public_url": "taugepa.llm.config",
    "Endpoint": "taugepa.llm.config",
    "read_api_key": "taugepa.llm.config",
    "MAX_BACKOFF_S": "taugepa.llm.client",
    "MAX_RETRY_AFTER_S": "taugepa.llm.client",
    "CONNECT_TIMEOUT_S": "taugepa.llm.client",
    "TRANSIENT_STATUS": "taugepa.llm.client",
    "CHAT_COMPLETIONS_PATH": "taugepa.llm.client",
    "JSON_REQUEST_OPTIONS": "taugepa.llm.client",
    "MAX_MESSAGE_CHARS": "taugepa.llm.client",
    "RequestFailed": "taugepa.llm.client",
    "Completion": "taugepa.llm.client",
    "ChatClient": "taugepa.llm.client",
    "recorded_completion": "taugepa.llm.client",
    "client_for": "taugepa.llm.client",
    "prepare_clients": "taugepa.llm.client",
    "MalformedResponse": "taugepa.llm.wire",
    "wire_messages": "taugepa.llm.wire",
    "assistant_message": "taugepa.llm.wire",
    "parse_retry_after": "taugepa.llm.wire",
    "parse_body": "taugepa.llm.wire",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
