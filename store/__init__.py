"""The store: SQLAlchemy models, migrations, repository and atomic files."""
