use super::*;

fn ticker(symbol: &str, price: f64) -> Ticker {
    Ticker {
        symbol: symbol.into(),
        price,
        change_24h: 1.0,
        volume_24h: 10.0,
        turnover_24h: 10.0 * price,
        high_24h: price * 1.1,
        low_24h: price * 0.9,
        data_ms: None,
    }
}

fn price(p: f64) -> TickerFields {
    let mut fields = TickerFields::default();
    fields.0[0] = Some(p);
    fields
}

fn whole(t: &Ticker) -> TickerFields {
    TickerFields(values(t).map(Some))
}

/// A book with `symbols` listed at 1,000 ms, placed on connection 0, subscribed and sent whole.
fn streaming(symbols: &[&str]) -> (Book, Instant) {
    let mut book = Book::default();
    for s in symbols {
        book.list(&ticker(s, 100.0), 1_000);
        book.place(s, 0);
    }
    book.connected(0);
    let at = Instant::now();
    let names: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    book.subscribed(0, &names, at);
    for s in symbols {
        book.ticker(0, s, true, &whole(&ticker(s, 100.0)), 1_100);
    }
    (book, at)
}

fn gap_free_since(book: &mut Book, symbol: &str) -> Option<i64> {
    let (_, continuity) = book.read(2_000, Duration::from_secs(30));
    continuity
        .iter()
        .find(|c| c.symbol == symbol)
        .unwrap()
        .gap_free_since_ms
}

#[test]
fn a_listed_symbol_is_in_a_gap_until_a_rest_answer_asked_after_its_subscription_resyncs_it() {
    let (mut book, subscribed) = streaming(&["AUSDT"]);
    assert_eq!(gap_free_since(&mut book, "AUSDT"), None);
    assert!(book.resync_wanted());
    // An answer asked before the subscription was acknowledged cannot close the gap.
    book.reconcile(&[ticker("AUSDT", 100.0)], 1_200, subscribed - Duration::from_millis(1));
    assert_eq!(gap_free_since(&mut book, "AUSDT"), None);
    book.reconcile(&[ticker("AUSDT", 100.0)], 1_200, subscribed);
    assert_eq!(gap_free_since(&mut book, "AUSDT"), Some(1_200));
    assert_eq!(book.counts.resyncs, 1);
    assert!(!book.resync_wanted());
}

#[test]
fn a_lost_connection_is_a_gap_counted_once_and_a_later_answer_resyncs_it() {
    let (mut book, subscribed) = streaming(&["AUSDT", "BUSDT"]);
    book.reconcile(&[ticker("AUSDT", 100.0), ticker("BUSDT", 100.0)], 1_200, subscribed);
    book.lost(0, GapReason::Silence);
    book.lost(0, GapReason::Disconnect);
    assert_eq!(book.counts.gaps.get(&GapReason::Silence), Some(&2));
    assert_eq!(book.counts.gaps.get(&GapReason::Disconnect), None, "a gap counts once");

    book.connected(0);
    let again = Instant::now();
    book.subscribed(0, &["AUSDT".into(), "BUSDT".into()], again);
    book.reconcile(&[ticker("AUSDT", 100.0), ticker("BUSDT", 100.0)], 1_300, again);
    // The answer is the whole ticker the stream's changes apply to, snapshot or not.
    assert_eq!(gap_free_since(&mut book, "AUSDT"), Some(1_300));
    assert_eq!(gap_free_since(&mut book, "BUSDT"), Some(1_300));
    book.ticker(0, "AUSDT", false, &price(101.0), 1_400);
    let (tickers, _) = book.read(2_000, Duration::from_secs(30));
    assert_eq!(tickers.iter().find(|t| t.symbol == "AUSDT").unwrap().price, 101.0);
}

#[test]
fn a_field_the_stream_left_stale_is_corrected_and_the_symbol_had_a_gap() {
    let (mut book, subscribed) = streaming(&["AUSDT"]);
    book.reconcile(&[ticker("AUSDT", 100.0)], 1_200, subscribed);
    // The exchange moved the price to 102 at 1,300 but the delta was lost; a later delta of
    // another field came.
    let mut volume = TickerFields::default();
    volume.0[2] = Some(11.0);
    book.ticker(0, "AUSDT", false, &volume, 1_400);
    let mut truth = ticker("AUSDT", 102.0);
    truth.volume_24h = 11.0;
    truth.turnover_24h = 1_000.0;
    truth.high_24h = 110.00000000000001;
    truth.low_24h = 90.0;
    // The price differs and was last set at 1,100: lost. The volume was set at 1,400, after the
    // answer's 1,300: not compared.
    truth.volume_24h = 12.0;
    book.reconcile(&[truth], 1_300, subscribed);
    assert_eq!(book.counts.gaps.get(&GapReason::Diverged), Some(&1));
    assert!(book.counts.corrected_fields >= 1);
    let (tickers, _) = book.read(2_000, Duration::from_secs(30));
    assert_eq!(tickers[0].price, 102.0);
    assert_eq!(tickers[0].volume_24h, 11.0, "the stream's newer volume stays");
    assert_eq!(gap_free_since(&mut book, "AUSDT"), Some(1_300));
}

#[test]
fn a_row_with_its_own_time_is_reconciled_as_of_that_time() {
    let (mut book, subscribed) = streaming(&["AUSDT", "BUSDT"]);
    book.reconcile(&[ticker("AUSDT", 100.0), ticker("BUSDT", 100.0)], 1_200, subscribed);
    // Both prices moved by stream at 1,400. The answer as a whole is as of 1,500, but BUSDT's
    // row closed at 1,300 (a quiet symbol, Binance-style): older than its streamed price, so
    // that price is not corrected back; AUSDT's row carries no time and is as of 1,500.
    book.ticker(0, "AUSDT", false, &price(101.0), 1_400);
    book.ticker(0, "BUSDT", false, &price(101.0), 1_400);
    let mut quiet = ticker("BUSDT", 100.0);
    quiet.data_ms = Some(1_300);
    book.reconcile(&[ticker("AUSDT", 100.5), quiet], 1_500, subscribed);
    let (tickers, _) = book.read(2_000, Duration::from_secs(30));
    let price_of = |s: &str| tickers.iter().find(|t| t.symbol == s).unwrap().price;
    assert_eq!(price_of("AUSDT"), 100.5, "set at 1,400, before the answer's 1,500");
    assert_eq!(price_of("BUSDT"), 101.0, "the stream's price is newer than the row");
    assert_eq!(book.counts.gaps.get(&GapReason::Diverged), Some(&1));
}

#[test]
fn data_older_than_max_age_is_left_out_and_a_live_symbol_is_as_fresh_as_its_connection() {
    let (mut book, _) = streaming(&["AUSDT", "BUSDT"]);
    // Only BUSDT changes, at 5,000: AUSDT is unchanged and as current.
    book.ticker(0, "BUSDT", false, &price(100.5), 5_000);
    let (tickers, _) = book.read(5_100, Duration::from_secs(30));
    let a = tickers.iter().find(|t| t.symbol == "AUSDT").unwrap();
    assert_eq!(a.data_ms, Some(5_000));
    book.lost(0, GapReason::Disconnect);
    let (tickers, _) = book.read(5_100, Duration::from_secs(30));
    assert_eq!(
        tickers.iter().find(|t| t.symbol == "AUSDT").unwrap().data_ms,
        Some(1_100)
    );
    let (tickers, _) = book.read(31_200, Duration::from_secs(30));
    assert_eq!(tickers.len(), 1, "AUSDT's data is older than max_age");
    assert_eq!(book.counts.stale, 1);
}
