-- Price tracking: a user watches a product for a target price or a percentage
-- drop; each crossing raises one alert (re-armed when the price goes back up).
CREATE TABLE price_tracks (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_pk     INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    below_cents    INTEGER CHECK (below_cents IS NULL OR below_cents > 0),
    drop_percent   INTEGER CHECK (drop_percent IS NULL OR drop_percent BETWEEN 1 AND 99),
    baseline_cents INTEGER NOT NULL CHECK (baseline_cents > 0),
    crossed        INTEGER NOT NULL DEFAULT 0 CHECK (crossed IN (0, 1)),
    created_at     INTEGER NOT NULL,
    CHECK ((below_cents IS NULL) <> (drop_percent IS NULL))
) STRICT;

CREATE UNIQUE INDEX price_tracks_one_per_product ON price_tracks (user_id, product_pk);

CREATE TABLE price_alerts (
    id          INTEGER PRIMARY KEY,
    track_id    INTEGER NOT NULL REFERENCES price_tracks (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_pk  INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    price_cents INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX price_alerts_by_user ON price_alerts (user_id, created_at DESC);
