"""LLM endpoints and the OpenAI-compatible client that calls them (the offline demo teacher lives in demo/teacher/)."""
