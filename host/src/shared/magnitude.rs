//! How large a number from a market source may be: one bound for tickers and candles alike.

/// The largest magnitude of any number a source yields (price, volume, turnover, change): far
/// above any real market (prices of 1e5, daily volumes of 1e15 in base units), and low enough
/// that sums and products over every symbol an answer can hold stay finite in a plugin.
pub const MAX_MAGNITUDE: f64 = 1e18;
