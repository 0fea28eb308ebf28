"""index text_insights on (faq_id, question, lang) in place of faq_id alone

The new index serves every look-up by FAQ group as the old one did, and covers the (question, lang, faq_id) keys an
ETL run's new questions are grouped against: an incremental run reads them from the index alone instead of the
whole table (docs/benchmarks.md "ETL").

Revision ID: 5d2e8f1c9a47
Revises: 0c8547759e93
Create Date: 2026-11-23 22:50:00
"""

from __future__ import annotations

from alembic import op

revision = "5d2e8f1c9a47"
down_revision = "0c8547759e93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("text_insights", schema=None) as batch_op:
        batch_op.create_index("ix_text_insights_faq_question", ["faq_id", "question", "lang"], unique=False)
        batch_op.drop_index(batch_op.f("ix_text_insights_faq_id"))


def downgrade() -> None:
    with op.batch_alter_table("text_insights", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_text_insights_faq_id"), ["faq_id"], unique=False)
        batch_op.drop_index("ix_text_insights_faq_question")
