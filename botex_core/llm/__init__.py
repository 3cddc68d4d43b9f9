"""Calling LLMs through LiteLLM, and managing a local llama.cpp server."""
