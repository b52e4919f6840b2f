"""The Gemini provider: `adapter` (SDK clients and I/O, thin), `mapping` (pure request and
reply conversion), `stream` (the streamed-event assembler), `tools` (tool definitions and calls).

Importing this package loads no SDK; `adapter` does.
"""
