-- L3 of the tiered cache (grocery_core::cache): one row per (cache name, key).
-- `value` is the JSON envelope written by the cache; `fetched_at` is when the
-- upstream answered, in milliseconds since the Unix epoch (UTC).
CREATE TABLE cache_entries (
    cache      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (cache, key)
) STRICT, WITHOUT ROWID;
