"""What makes a file an annotation store, and how older stores are upgraded.

A store carries a marker of its own: SQLite's ``application_id`` (in the
file's header) and a table of metadata with the format's name. A file with
another application's id, or none, is left untouched: it is read only to
recognise a store written by an earlier version of this library (no marker),
by its exact schema, which is then upgraded in place. Each answer carries a
checksum of what it says, so that a changed byte is found before the answer
is replayed.
"""

import hashlib
import json
import os
import sqlite3

APPLICATION_ID = 0x43696E63  # "Cinc", at offset 68 of the SQLite header
INFO_TABLE = "sklearn_cincer_store"
FORMAT = "sklearn-cincer annotation store"

# 6: where each revision (undo) was applied in its run (_add_applied_table),
# so that a replay applies it at the same point.
# 5: a checksum per answer (_add_checksums).
# 4: the marker (APPLICATION_ID and INFO_TABLE).
# 3: several counter-examples per question (LIST_COLUMNS); the key of a
# question with one is as in 2.
# 2: questions keyed by the fingerprints of both examples' features and the
# strategy; runs carry a fingerprint of the cleaner's settings and data.
# 0 (no version): the first schema, keyed by ids and labels only.
SCHEMA_VERSION = 6

# Columns of a question with several counter-examples (n_counter_examples >
# 1): JSON lists, one entry per counter-example, in order. NULL for a
# question with at most one, whose row is as it was before they existed.
LIST_COLUMNS = (
    "counter_example_ids",
    "scores",
    "counter_labels_before",
    "counter_labels_after",
    "counter_x_fingerprints",
)

# The tables of schema 3; later versions add to them (_UPGRADES).
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    fingerprint TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS questions (
    question_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'revised')),
    round INTEGER,
    example_id INTEGER NOT NULL,
    counter_example_id INTEGER,
    strategy TEXT,
    label_before TEXT,
    counter_label_before TEXT,
    prediction TEXT,
    margin REAL,
    score REAL,
    label_after TEXT,
    counter_label_after TEXT,
    skipped INTEGER NOT NULL DEFAULT 0,
    annotator TEXT,
    asked_at TEXT NOT NULL,
    answered_at TEXT,
    revises INTEGER REFERENCES questions (question_id),
    qkey TEXT NOT NULL,
    x_fingerprint TEXT,
    counter_x_fingerprint TEXT,
    counter_example_ids TEXT,
    scores TEXT,
    counter_labels_before TEXT,
    counter_labels_after TEXT,
    counter_x_fingerprints TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_row_per_question
    ON questions (qkey) WHERE status IN ('pending', 'answered');
"""

# How many leading columns of each table the earlier versions had: their
# columns are a prefix of SCHEMA's, since each upgrade appended its own.
_EARLIER = {
    0: {"runs": 2, "questions": 20},
    2: {"runs": 4, "questions": 22},
    3: {"runs": 4, "questions": 27},
}

# What schemas 0 and 2 lack, added in place when such a store is opened.
_MIGRATION = (
    ("runs", "fingerprint", "TEXT"),
    ("runs", "pid", "INTEGER"),
    ("questions", "x_fingerprint", "TEXT"),
    ("questions", "counter_x_fingerprint", "TEXT"),
) + tuple(("questions", column, "TEXT") for column in LIST_COLUMNS)

# The answer's columns a checksum covers, after the question's key.
ANSWER_FIELDS = (
    "label_after",
    "counter_label_after",
    "counter_labels_after",
    "skipped",
    "annotator",
)


def answer_checksum(
    qkey, label_after, counter_label_after, counter_labels_after, skipped, annotator
):
    """SHA-256 of an answer's stored columns and its question's key.

    The labels are their stored JSON text, so that the checksum covers the
    bytes that are replayed; the key ties the answer to its question.
    """
    text = json.dumps(
        [
            "sklearn-cincer answer 1",
            qkey,
            label_after,
            counter_label_after,
            counter_labels_after,
            int(bool(skipped)),
            annotator,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def row_checksum(row):
    """:func:`answer_checksum` of a row read with ``qkey`` and ANSWER_FIELDS."""
    return answer_checksum(row["qkey"], *(row[c] for c in ANSWER_FIELDS))


# ----------------------------------------------------------- the file


class ValueError(ValueError):
    """The file is not an annotation store; it was left as it was."""


def check_header(path):
    """Whether the existing file ``path`` claims to be a store.

    Reads the SQLite header only, so that a file of another application is
    refused before SQLite opens it (opening a database in WAL mode writes
    files beside it, even read-only). Returns True for the marker, False for
    a file without one (which may be a store of an earlier version).

    Raises
    ------
    ValueError
        When the file is not SQLite, carries another application's id, or
        could not be checked without changing it.
    """
    with open(path, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        raise ValueError(
            f"{path} is not an SQLite database, so not an annotation store; it "
            "was left as it was."
        )
    app = int.from_bytes(header[68:72], "big")
    if app == APPLICATION_ID:
        return True
    if app != 0 or header[18] == 2 or header[19] == 2:
        # no store, of any version, used WAL mode or another application id
        raise ValueError(
            f"{path} is an SQLite database of another application (application "
            f"id {app:#x}{', WAL mode' if header[18] == 2 else ''}), not an "
            "annotation store; it was left as it was. Give the path of a store, "
            "or a new file."
        )
    journal = path + "-journal"
    if os.path.exists(journal) and os.path.getsize(journal) > 0:
        raise ValueError(
            f"{path} has an unfinished transaction ({journal}) and no marker of "
            "an annotation store: it cannot be checked without changing it, so it "
            "was left as it was. If it is a store of an earlier version of "
            "sklearn-cincer, open it once with that version to finish the "
            "transaction."
        )
    return False


def _expected_columns():
    """``PRAGMA table_info`` of SCHEMA's tables, as written by SQLite."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA)
        return {
            t: [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({t})")]
            for t in ("runs", "questions")
        }
    finally:
        conn.close()


_COLUMNS_OF_SCHEMA = _expected_columns()


def identify(conn, path):
    """What the database behind ``conn`` is, reading only.

    Returns
    -------
    kind : {"ours", "earlier", "empty"}
        A marked store, a store of an earlier version (recognised by its
        exact schema and version), or a database without tables.
    version : int
        Its ``user_version``.

    Raises
    ------
    ValueError
        For anything else, which is left as it was.
    """
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    objects = {
        (r[0], r[1])
        for r in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\'"
        )
    }
    if app == APPLICATION_ID:
        if ("table", INFO_TABLE) in objects and conn.execute(
            f"SELECT 1 FROM {INFO_TABLE} WHERE key = 'format' AND value = ?", (FORMAT,)
        ).fetchone():
            return "ours", version
    elif app == 0 and not objects:
        return "empty", version
    elif app == 0 and _is_earlier_store(conn, objects, version):
        return "earlier", version
    tables = sorted(name for kind, name in objects if kind == "table")
    raise ValueError(
        f"{path} is an SQLite database but not an annotation store (its tables: "
        f"{tables}); it was left as it was. Give the path of a store, or a new "
        "file."
    )


def _is_earlier_store(conn, objects, version):
    """Whether the schema is exactly that of a store of an earlier version."""
    if version not in _EARLIER or objects != {
        ("table", "runs"),
        ("table", "questions"),
        ("index", "one_live_row_per_question"),
    }:
        return False
    for table, n in _EARLIER[version].items():
        have = [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({table})")]
        if have != _COLUMNS_OF_SCHEMA[table][:n]:
            return False
    indexes = [tuple(r[1:]) for r in conn.execute("PRAGMA index_list(questions)")]
    columns = [
        r[2] for r in conn.execute("PRAGMA index_info(one_live_row_per_question)")
    ]
    return indexes == [("one_live_row_per_question", 1, "c", 1)] and (
        columns == ["qkey"]
    )


# ----------------------------------------------------------- upgrades


def create(conn):
    """Write a new store's tables and marker (inside the caller's transaction)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    upgrade(conn, 3)


def upgrade(conn, version):
    """Bring a store of ``version`` up to SCHEMA_VERSION (inside a transaction).

    Each version's change is its own step. Returns the number of answers
    that got a checksum (recorded before checksums existed).
    """
    if version < 3:
        _add_columns(conn)
    if version < 4:
        _add_marker(conn)
    n_checked = 0
    if version < 5:
        n_checked = _add_checksums(conn)
    if version < 6:
        _add_applied_table(conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return n_checked


def _add_columns(conn):
    for table, column, kind in _MIGRATION:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _add_marker(conn):
    conn.execute(
        f"CREATE TABLE {INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )
    conn.execute(f"INSERT INTO {INFO_TABLE} VALUES ('format', ?)", (FORMAT,))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _add_applied_table(conn):
    """The round before which each revision was applied in its run.

    A table of its own: a revision without a row here (recorded by an
    earlier version, or by a run that stopped before applying it) replaces
    the answer it revises at its question, as it always did.
    """
    conn.execute(
        "CREATE TABLE revisions_applied (question_id INTEGER PRIMARY KEY "
        "REFERENCES questions (question_id), applied_round INTEGER NOT NULL)"
    )


def _add_checksums(conn):
    """Give every answer recorded before checksums existed its checksum.

    Those answers were trusted as they were; from now on a change to one is
    found.
    """
    conn.execute("ALTER TABLE questions ADD COLUMN checksum TEXT")
    rows = conn.execute(
        f"SELECT question_id, qkey, {', '.join(ANSWER_FIELDS)} FROM questions "
        "WHERE status != 'pending'"
    ).fetchall()
    conn.executemany(
        "UPDATE questions SET checksum = ? WHERE question_id = ?",
        [(answer_checksum(r[1], *r[2:]), r[0]) for r in rows],
    )
    return len(rows)
