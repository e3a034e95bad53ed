"""search index: full-text search over names and descriptions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Engine-specific, so written by hand and kept out of the models (env.py skips it in autogenerate):
SQLite gets an FTS5 virtual table, PostgreSQL a table with a generated, GIN-indexed tsvector.
The loader fills it (`scn load` rebuilds it when it finds it empty beside existing data).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5("
            "entity_type UNINDEXED, entity_id UNINDEXED, name, body, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        return
    op.execute(
        """
        CREATE TABLE search_index (
            entity_type varchar(32) NOT NULL,
            entity_id varchar(64) NOT NULL,
            name text NOT NULL,
            body text NOT NULL,
            document tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english', name), 'A')
                || setweight(to_tsvector('english', body), 'B')
            ) STORED,
            CONSTRAINT pk_search_index PRIMARY KEY (entity_type, entity_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_search_index_document ON search_index USING gin (document)")


def downgrade() -> None:
    op.execute("DROP TABLE search_index")
