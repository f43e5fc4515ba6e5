"""The HTTP API. Only health is served until the REST resources land."""
