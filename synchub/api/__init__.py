"""The HTTP API: /api/v1 (REST), health, metrics, and the compatibility layers."""
