-- Cumulative hit and miss counters of each tiered cache (grocery_core::cache),
-- added to by every process that used the cache, so that a one-shot command
-- (`grocery cache stats`) and a server see the same totals.
CREATE TABLE cache_counters (
    cache   TEXT    NOT NULL,
    counter TEXT    NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (cache, counter)
) STRICT, WITHOUT ROWID;
