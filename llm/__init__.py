"""LLM endpoints, the OpenAI-compatible client that calls them, and the offline demo teacher."""
