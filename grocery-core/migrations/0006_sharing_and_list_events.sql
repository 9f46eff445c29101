-- Sharing: a list's owner lets another user edit or view it.
CREATE TABLE list_shares (
    list_id    INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('editor', 'viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX list_shares_by_user ON list_shares (user_id, list_id);

-- Every change to a list, in commit order: written in the same transaction as
-- the change, so live subscribers (in this process, another server process or
-- after the CLI wrote) see each change once, in order, and a client that
-- reconnects resumes after the last `seq` it saw. No foreign key: the event of
-- a deleted list outlives it.
CREATE TABLE list_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id  INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('changed', 'deleted', 'shared', 'unshared')),
    actor_id INTEGER NOT NULL,
    at       INTEGER NOT NULL
) STRICT;

-- Who may see each event: the list's owner and the users it was shared with
-- when it happened (and a user just removed from it).
CREATE TABLE list_event_audience (
    user_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL REFERENCES list_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (user_id, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX list_event_audience_by_seq ON list_event_audience (seq);
