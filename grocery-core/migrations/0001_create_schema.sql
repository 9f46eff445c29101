-- Grocery Agent schema, version 1.
-- Times are UTC milliseconds since the Unix epoch. Money is integer cents.
-- Quantities are exact rationals stored as 'numerator/denominator' text.

-- 'GROC': lets `open` and `restore` tell our databases from any other SQLite file.
PRAGMA application_id = 1196576579;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    token_hash TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- The local user owns everything made without a server (CLI, notebooks).
INSERT INTO users (id, name, created_at) VALUES (1, 'local', CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE products (
    pk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    upc         TEXT,
    name        TEXT NOT NULL,
    brand       TEXT NOT NULL,
    department  TEXT NOT NULL,
    aisle       TEXT NOT NULL DEFAULT '',
    size_amount TEXT NOT NULL,
    size_unit   TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL DEFAULT 'USD',
    tags        TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT '',
    popularity  INTEGER NOT NULL DEFAULT 50 CHECK (popularity BETWEEN 1 AND 100),
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX products_upc ON products (upc) WHERE upc IS NOT NULL;
CREATE INDEX products_kind ON products (kind);

-- Full-text index over the searchable columns, kept in step by triggers.
-- porter folds plurals ("eggs" = "egg"); remove_diacritics folds "jalapeño".
CREATE VIRTUAL TABLE products_fts USING fts5 (
    name, brand, kind, tags, aisle,
    content = 'products', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER products_ai AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, brand, kind, tags, aisle)
    VALUES (new.pk, new.name, new.brand, new.kind, new.tags, new.aisle);
END;
CREATE TRIGGER products_ad AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, brand, kind, tags, aisle)
    VALUES ('delete', old.pk, old.name, old.brand, old.kind, old.tags, old.aisle);
END;
CREATE TRIGGER products_au AFTER UPDATE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, brand, kind, tags, aisle)
    VALUES ('delete', old.pk, old.name, old.brand, old.kind, old.tags, old.aisle);
    INSERT INTO products_fts (rowid, name, brand, kind, tags, aisle)
    VALUES (new.pk, new.name, new.brand, new.kind, new.tags, new.aisle);
END;

-- Observed prices, one row per change point (filled by the pricing module).
CREATE TABLE prices (
    id          INTEGER PRIMARY KEY,
    product_pk  INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL DEFAULT 'USD',
    observed_at INTEGER NOT NULL
) STRICT;

CREATE INDEX prices_by_product ON prices (product_pk, observed_at DESC);

CREATE TABLE lists (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX lists_owner_name ON lists (owner_id, name COLLATE NOCASE);
CREATE INDEX lists_by_owner ON lists (owner_id, created_at);

CREATE TABLE list_items (
    id         INTEGER PRIMARY KEY,
    list_id    INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    product_pk INTEGER REFERENCES products (pk) ON DELETE SET NULL,
    name       TEXT NOT NULL,
    amount     TEXT NOT NULL,
    unit       TEXT NOT NULL,
    note       TEXT,
    checked    INTEGER NOT NULL DEFAULT 0 CHECK (checked IN (0, 1)),
    added_by   INTEGER NOT NULL REFERENCES users (id),
    added_at   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX list_items_by_list ON list_items (list_id, id);
