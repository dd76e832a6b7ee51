"""The Gradio agent app (`llamasys app`, `make run`): `build_app`, `launch`, and the event rendering in
`render`. See app.py for what the app shows and how it handles several tabs at once."""

from .app import AgentPool, build_app, launch, session_history, shield_banner

__all__ = ["AgentPool", "build_app", "launch", "session_history", "shield_banner"]
