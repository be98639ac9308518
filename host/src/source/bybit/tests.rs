use super::*;

#[test]
fn bybit_fields_map_to_one_meaning_each() {
    let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
        {"symbol":"BTCUSDT","lastPrice":"95000.5","indexPrice":"95001","markPrice":"95000.9",
         "prevPrice24h":"93000","price24hPcnt":"0.021511","highPrice24h":"96000","lowPrice24h":"92500",
         "prevPrice1h":"94900","openInterest":"50000","openInterestValue":"4750000000",
         "turnover24h":"9000000000","volume24h":"95000.2","fundingRate":"0.0001",
         "nextFundingTime":"1700000000000","bid1Price":"95000","bid1Size":"1","ask1Price":"95001","ask1Size":"2"},
        {"symbol":"BADUSDT","lastPrice":"","price24hPcnt":"0","highPrice24h":"1","lowPrice24h":"1",
         "turnover24h":"1","volume24h":"1"}]},"retExtInfo":{},"time":1700000000000}"#;
    let answer = parse_tickers(body).unwrap();
    assert_eq!(answer.as_of_ms, Some(1_700_000_000_000));
    let tickers = answer.tickers;
    let btc = &tickers[0];
    assert_eq!(
        (btc.symbol.as_str(), btc.price, btc.volume_24h),
        ("BTCUSDT", 95000.5, 95000.2)
    );
    assert!((btc.change_24h - 2.1511).abs() < 1e-9);
    assert_eq!((btc.turnover_24h, btc.high_24h, btc.low_24h), (9e9, 96000.0, 92500.0));
    assert!(tickers[1].price.is_nan(), "an empty number must not become 0");
    let error = parse_tickers(br#"{"retCode":10001,"retMsg":"params error","result":{},"time":1}"#);
    assert!(error.unwrap_err().to_string().contains("params error"));
}

#[test]
fn bybit_rows_come_newest_first_as_strings() {
    let body = br#"{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[
        ["1670608860000","17055.5","17080","17050","17071","12.5","213400.5"],
        ["1670608800000","17071","17073","17027","17055.5","268611","4582257.8"],
        ["1670608740000","oops","17073","17027","17055.5","1","1"]]},"retExtInfo":{},"time":1670608866000}"#;
    let candles = parse_klines(body).unwrap();
    assert_eq!(candles.len(), 3);
    assert!(
        candles[0].open.is_nan(),
        "the bad row is kept as NaN, for the store to refuse"
    );
    assert_eq!(
        candles[1],
        Candle {
            start_ms: 1_670_608_800_000,
            open: 17071.0,
            high: 17073.0,
            low: 17027.0,
            close: 17055.5,
            volume: 268611.0,
            turnover: 4582257.8
        }
    );
    assert_eq!(candles[2].start_ms, 1_670_608_860_000);
    let error = br#"{"retCode":10001,"retMsg":"Invalid period!","result":{},"time":1}"#;
    assert!(parse_klines(error).unwrap_err().to_string().contains("Invalid period"));
}

#[test]
fn bybit_stream_messages_read_as_documented() {
    let mut events = Vec::new();
    read_message(
        r#"{"success":true,"ret_msg":"","conn_id":"c","req_id":"7","op":"subscribe"}"#,
        &mut events,
    )
    .unwrap();
    read_message(r#"{"success":false,"ret_msg":"error:handler not found,topic:tickers.X","conn_id":"c","req_id":"8","op":"subscribe"}"#, &mut events).unwrap();
    read_message(
        r#"{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}"#,
        &mut events,
    )
    .unwrap();
    read_message(r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","lastPrice":"66666.6","price24hPcnt":"-0.158315"},"cs":9,"ts":1760325052630}"#, &mut events).unwrap();
    read_message(r#"{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":true,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}"#, &mut events).unwrap();
    assert_eq!(events[0], Event::Answer { id: 7, refused: None });
    assert!(matches!(&events[1], Event::Answer { id: 8, refused: Some(r) } if r.contains("handler not found")));
    assert_eq!(events[2], Event::Pong);
    let Event::Ticker {
        symbol,
        whole,
        fields,
        sent_ms,
    } = &events[3]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        (symbol.as_ref(), *whole, *sent_ms),
        ("BTCUSDT", false, 1_760_325_052_630)
    );
    assert_eq!(fields.0[0], Some(66666.6));
    assert_eq!(fields.0[1], Some(change("-0.158315")), "the same operation as REST's");
    assert_eq!(fields.0[2..], [None; 4], "a delta carries only what changed");
    let Event::Kline {
        timeframe,
        candle,
        closed,
        ..
    } = &events[4]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        (*timeframe, candle.start_ms, candle.close, *closed),
        (Timeframe::M5, 1_672_324_800_000, 16677.0, true)
    );
    for bad in [
        "{not json",
        r#"{"topic":"tickers.BTCUSDT","type":"sideways","data":{"symbol":"BTCUSDT"},"ts":1}"#,
        r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"ETHUSDT"},"ts":1}"#,
        r#"{"topic":"kline.7.BTCUSDT","type":"snapshot","data":[],"ts":1}"#,
        r#"{"topic":"tickers.BTCUSDT","type":"delta"}"#,
        // Data of the other topic's shape.
        r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":[],"ts":1}"#,
        r#"{"topic":"kline.5.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT"},"ts":1}"#,
        r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":"BTCUSDT","ts":1}"#,
    ] {
        assert!(read_message(bad, &mut events).is_err(), "{bad}");
    }
}

#[test]
fn kline_requests_name_bybit_s_intervals() {
    assert_eq!(
        Bybit { spot: false }.kline_path("BTCUSDT", Timeframe::D1, 61),
        "/v5/market/kline?category=linear&symbol=BTCUSDT&interval=D&limit=61"
    );
    assert_eq!(
        Bybit { spot: true }.kline_path("ETHUSDT", Timeframe::H4, 2),
        "/v5/market/kline?category=spot&symbol=ETHUSDT&interval=240&limit=2"
    );
}
