-- What each user bought: a line checked off (unchecking it takes the row back).
-- Kept when the line or list is deleted: it is the user's history.
CREATE TABLE purchases (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id    INTEGER,
    name       TEXT NOT NULL,
    product_pk INTEGER REFERENCES products (pk) ON DELETE SET NULL,
    amount     TEXT NOT NULL,
    unit       TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

CREATE INDEX purchases_by_user ON purchases (user_id, at);
CREATE INDEX purchases_by_item ON purchases (item_id);

-- What each user adds and buys of each product: their learned preferences.
CREATE TABLE product_picks (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_pk INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    added      INTEGER NOT NULL DEFAULT 0,
    bought     INTEGER NOT NULL DEFAULT 0,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_pk)
) STRICT, WITHOUT ROWID;
