"""Request and response bodies, one module per resource, kept apart from the ORM rows."""
