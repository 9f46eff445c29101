-- Prices of named stores, imported as they are (the demo market moves only the
-- catalog's own prices), and offers imported with a price. `store` is
-- lower-case; '' is the catalog's own store (an offer on a row without a store).
CREATE TABLE store_prices (
    product_pk  INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    store       TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    offer       TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (product_pk, store)
) STRICT, WITHOUT ROWID;

CREATE INDEX store_prices_by_store ON store_prices (store);

-- 0: the product is sold only by the named stores of store_prices, not by the
-- catalog's own store.
ALTER TABLE products ADD COLUMN own_store INTEGER NOT NULL DEFAULT 1;
