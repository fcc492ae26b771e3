"""L1, storage: the Repository, the only importer of SQLAlchemy and Alembic."""
