-- The list each user chose with `grocery list use NAME`: the one commands act on
-- when they name none. A deleted list (or user) takes its row with it, and the
-- default list is used again.
CREATE TABLE current_lists (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE
) STRICT;

CREATE INDEX current_lists_by_list ON current_lists (list_id);
