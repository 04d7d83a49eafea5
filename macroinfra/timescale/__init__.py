"""TimescaleDB: the declared hypertable spec, edition detection, and catalog inspection."""
