"""search index keyed by an integer rowid: replacing or removing one entry touches one entry

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

SQLite: revision 0002's FTS5 table kept entity_type and entity_id as UNINDEXED columns, so
`DELETE ... WHERE entity_type = ? AND entity_id = ?` read the whole index for every record (a
mirror or a load was quadratic). The entries now live in a plain table, `search_index_entry`,
with an integer primary key and a unique index on (entity_type, entity_id); `search_index`
becomes an FTS5 index over it (external content, keyed by that integer), kept in step by
app/search.py (not by triggers: an FTS5 write inside a trigger costs several times a plain one).
Deleting an entry is one indexed lookup and one FTS5 delete.

PostgreSQL: unchanged. Its table's primary key is (entity_type, entity_id), so deletes already
use an index.

Both ways keep every entry (copied across, the full-text index rebuilt from them).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if not _sqlite():
        return
    op.execute(
        """
        CREATE TABLE search_index_entry (
            id INTEGER PRIMARY KEY,
            entity_type VARCHAR(32) NOT NULL,
            entity_id VARCHAR(64) NOT NULL,
            name TEXT NOT NULL,
            body TEXT NOT NULL,
            CONSTRAINT uq_search_index_entry_key UNIQUE (entity_type, entity_id)
        )
        """
    )
    # The last entry written for a key wins, should an old index hold two.
    op.execute(
        "INSERT OR REPLACE INTO search_index_entry (entity_type, entity_id, name, body) "
        "SELECT entity_type, entity_id, name, body FROM search_index ORDER BY rowid"
    )
    op.execute("DROP TABLE search_index")
    op.execute(
        "CREATE VIRTUAL TABLE search_index USING fts5(name, body, "
        f"content = 'search_index_entry', content_rowid = 'id', {TOKENIZER})"
    )
    op.execute("INSERT INTO search_index (search_index) VALUES ('rebuild')")


def downgrade() -> None:
    if not _sqlite():
        return
    op.execute("DROP TABLE search_index")
    op.execute(
        "CREATE VIRTUAL TABLE search_index USING fts5("
        f"entity_type UNINDEXED, entity_id UNINDEXED, name, body, {TOKENIZER})"
    )
    op.execute(
        "INSERT INTO search_index (entity_type, entity_id, name, body) "
        "SELECT entity_type, entity_id, name, body FROM search_index_entry ORDER BY id"
    )
    op.execute("DROP TABLE search_index_entry")
