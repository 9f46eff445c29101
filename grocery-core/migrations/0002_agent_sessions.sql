-- Agent sessions: what "it" and "that" refer to and how to undo, per user and
-- session name, so that a conversation survives the process (one-shot CLI runs,
-- server restarts). The state is the agent's own JSON; nothing else reads it.
CREATE TABLE agent_sessions (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX agent_sessions_by_age ON agent_sessions (updated_at);
