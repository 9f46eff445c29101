-- Each undoable request of an agent session in a row of its own, numbered on
-- per session, so that saving a session after a request writes that request's
-- entry and a small state row instead of the session's whole history.
-- Sessions saved before keep their history in their state until next saved.
CREATE TABLE agent_undo (
    user_id INTEGER NOT NULL,
    name    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    steps   TEXT    NOT NULL,
    PRIMARY KEY (user_id, name, seq),
    FOREIGN KEY (user_id, name) REFERENCES agent_sessions (user_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
