"""Integrations with other libraries (torch, tensorboardX...). Empty in this version."""

__all__: list[str] = []
