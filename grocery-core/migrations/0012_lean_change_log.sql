-- The change log, cheaper to append to (every list edit appends one event and
-- its audience):
-- * no AUTOINCREMENT: each insert read and rewrote the table's row in
--   sqlite_sequence. A seq is still never used twice, because only pruning
--   deletes events and it always keeps the newest, so max(seq) + 1 is new;
-- * the kind checked by comparisons: SQLite built a temporary index for the
--   `IN (...)` list on every insert;
-- * the audience without a foreign key to its event: each audience row looked
--   its event up. Pruning deletes an event's audience with it.
CREATE TABLE list_events_lean (
    seq      INTEGER PRIMARY KEY,
    list_id  INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (
        kind = 'changed' OR kind = 'deleted' OR kind = 'shared' OR kind = 'unshared'
    ),
    actor_id INTEGER NOT NULL,
    at       INTEGER NOT NULL
) STRICT;

INSERT INTO list_events_lean (seq, list_id, version, kind, actor_id, at)
    SELECT seq, list_id, version, kind, actor_id, at FROM list_events;

CREATE TABLE list_event_audience_lean (
    seq     INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (seq, user_id)
) STRICT, WITHOUT ROWID;

INSERT INTO list_event_audience_lean (seq, user_id)
    SELECT seq, user_id FROM list_event_audience;

-- The child first: dropping the log while the audience still refers to it
-- would delete the audience with it.
DROP TABLE list_event_audience;
DROP TABLE list_events;
DELETE FROM sqlite_sequence WHERE name = 'list_events';

ALTER TABLE list_events_lean RENAME TO list_events;
ALTER TABLE list_event_audience_lean RENAME TO list_event_audience;
