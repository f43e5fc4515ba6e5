"""SQLAlchemy tables and queries, Alembic migrations. All SQL lives here."""
