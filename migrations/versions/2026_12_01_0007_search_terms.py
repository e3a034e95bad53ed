"""search terms: one normalisation for both engines, a vocabulary for typos, names for ranking

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The engines no longer stem or fold: app/search_terms.py turns each record's texts into terms
(accents folded, US spellings made UK, each language stemmed by its Snowball stemmer) and the
index matches those terms only, so SQLite and PostgreSQL find the same records.
- Each entry gains `name_terms`, `body_terms` (what is matched) and `name_key` (its names as
  words, to rank a record first when the query is its name); `name` and `body` stay as written,
  for snippets.
- SQLite: the FTS5 index covers the two term columns with a tokenizer that only splits on
  spaces (`unicode61`, no diacritics removal, no stemmer).
- PostgreSQL: the generated tsvector reads the term columns with the `simple` configuration
  (no stemming, no stop words). No extension is needed.
- `search_index_vocabulary` lists the indexed words that a typo may be corrected to.

The index is then rebuilt from the records (terms cannot be made from the entries, which no
longer know which language each text was in), with the application's current rules. Downgrade
restores revision 0006's index (the engines' own English stemming) from the entries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app import search

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The searchable tables at this revision (frozen here: app.models may grow later).
ENTITIES = (
    "source",
    "theme",
    "country",
    "action_plan",
    "legal_basis",
    "city",
    "organisation",
    "cooperation",
    "practice",
    "contact_point",
)
TERM_COLUMNS = ("name_terms", "body_terms", "name_key")
OLD_TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"
NEW_TOKENIZER = "tokenize = 'unicode61 remove_diacritics 0'"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        for column in TERM_COLUMNS:
            op.execute(
                f"ALTER TABLE search_index_entry ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
            )
        op.execute("DROP TABLE search_index")
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5(name_terms, body_terms, "
            f"content = 'search_index_entry', content_rowid = 'id', {NEW_TOKENIZER})"
        )
        op.execute("CREATE TABLE search_index_vocabulary (term TEXT PRIMARY KEY) WITHOUT ROWID")
    else:
        op.execute("DROP INDEX ix_search_index_document")
        op.execute("ALTER TABLE search_index DROP COLUMN document")
        for column in TERM_COLUMNS:
            op.execute(f"ALTER TABLE search_index ADD COLUMN {column} text NOT NULL DEFAULT ''")
        op.execute(
            """
            ALTER TABLE search_index ADD COLUMN document tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', name_terms), 'A')
                || setweight(to_tsvector('simple', body_terms), 'B')
            ) STORED
            """
        )
        op.execute("CREATE INDEX ix_search_index_document ON search_index USING gin (document)")
        op.execute("CREATE TABLE search_index_vocabulary (term text PRIMARY KEY)")
    bind = op.get_bind()
    tables = sa.MetaData()
    search.rebuild(bind, [(name, sa.Table(name, tables, autoload_with=bind)) for name in ENTITIES])


def downgrade() -> None:
    op.execute("DROP TABLE search_index_vocabulary")
    if _sqlite():
        op.execute("DROP TABLE search_index")
        for column in TERM_COLUMNS:
            op.execute(f"ALTER TABLE search_index_entry DROP COLUMN {column}")
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5(name, body, "
            f"content = 'search_index_entry', content_rowid = 'id', {OLD_TOKENIZER})"
        )
        op.execute("INSERT INTO search_index (search_index) VALUES ('rebuild')")
        return
    op.execute("DROP INDEX ix_search_index_document")
    op.execute("ALTER TABLE search_index DROP COLUMN document")
    for column in TERM_COLUMNS:
        op.execute(f"ALTER TABLE search_index DROP COLUMN {column}")
    op.execute(
        """
        ALTER TABLE search_index ADD COLUMN document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', name), 'A')
            || setweight(to_tsvector('english', body), 'B')
        ) STORED
        """
    )
    op.execute("CREATE INDEX ix_search_index_document ON search_index USING gin (document)")
