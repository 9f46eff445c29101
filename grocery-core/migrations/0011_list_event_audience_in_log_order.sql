-- The change log's audience keyed in log order, (seq, user_id), instead of by
-- user: a commit's rows go at the end of one b-tree instead of into every
-- user's part of it and a second index by seq. Under load that part was
-- most of each commit's pages. Reads find an event's audience, or whether one
-- user is in it, by the key.
CREATE TABLE list_event_audience_by_log (
    seq     INTEGER NOT NULL REFERENCES list_events (seq) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (seq, user_id)
) STRICT, WITHOUT ROWID;

INSERT INTO list_event_audience_by_log (seq, user_id)
    SELECT seq, user_id FROM list_event_audience;

DROP TABLE list_event_audience;

ALTER TABLE list_event_audience_by_log RENAME TO list_event_audience;
