"""Market-data providers behind one interface (`base.MarketDataSource`)."""
