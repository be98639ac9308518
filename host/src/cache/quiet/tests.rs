use super::*;

fn entry(key: &str, value: &str, ttl: u32) -> ValidEntry {
    ValidEntry {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        ttl,
    }
}

#[tokio::test]
async fn a_batch_is_quiet_sets_with_their_positions_then_a_barrier() {
    let entries = [
        entry("a:1", "x", 5),
        entry("b:2", "{\"v\":1}", 30),
        entry("c:3", "yy", 7),
    ];
    let mut wire = Vec::new();
    send(&mut wire, &entries, &[2, 0], Fence::open()).await.unwrap();
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "ms c:3 2 T7 q O0\r\nyy\r\nms a:1 1 T5 q O1\r\nx\r\nmn\r\n"
    );
    let mut wire = Vec::new();
    send(
        &mut wire,
        &entries,
        &[1],
        Fence {
            term: 42,
            ..Fence::open()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "ms b:2 7 T30 F42 q O0\r\n{\"v\":1}\r\nmn\r\n",
        "a writer's term travels in the client flags"
    );
}

#[tokio::test]
async fn a_value_larger_than_the_buffer_is_sent_whole_and_in_order() {
    let big = "v".repeat(SEND_BUFFER + 10);
    let entries = [entry("a", "1", 5), entry("big", &big, 5), entry("c", "3", 5)];
    let mut wire = Vec::new();
    send(&mut wire, &entries, &[0, 1, 2], Fence::open()).await.unwrap();
    let expected = format!(
        "ms a 1 T5 q O0\r\n1\r\nms big {} T5 q O1\r\n{big}\r\nms c 1 T5 q O2\r\n3\r\nmn\r\n",
        big.len()
    );
    assert!(wire == expected.as_bytes());
}

#[tokio::test]
async fn nothing_more_goes_out_once_the_fence_stops_holding() {
    let value = "v".repeat(100 * 1024);
    let entries: Vec<ValidEntry> = (0..8).map(|i| entry(&format!("k{i}"), &value, 5)).collect();
    let checks = std::sync::atomic::AtomicUsize::new(0);
    // Holds for the first socket write (the first three entries, past 256 KiB), then not.
    let holds = || checks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
    let fence = Fence { term: 9, holds: &holds };
    let mut wire = Vec::new();
    let sent = send(&mut wire, &entries, &(0..8).collect::<Vec<_>>(), fence).await;
    assert!(is_fenced(&sent.unwrap_err()));
    assert!(
        wire.len() > SEND_BUFFER && wire.len() < 3 * SEND_BUFFER / 2,
        "{} bytes went out",
        wire.len()
    );
    assert!(!wire.ends_with(b"mn\r\n"));
}

async fn answered(replies: &str, count: usize) -> Result<Answer> {
    answers(replies.as_bytes(), count).await
}

#[tokio::test]
async fn silence_up_to_the_barrier_means_every_key_was_stored() {
    assert_eq!(answered("MN\r\n", 3).await.unwrap(), Answer::Stored(vec![]));
}

#[tokio::test]
async fn a_refusal_names_its_key_by_position() {
    let answer = answered("NS O2\r\nEX b O0\r\nMN\r\n", 3).await.unwrap();
    assert_eq!(answer, Answer::Stored(vec![(2, "NS O2".into()), (0, "EX b O0".into())]));
}

#[tokio::test]
async fn an_error_naming_no_key_makes_the_answer_unattributed() {
    let answer = answered("NS O1\r\nSERVER_ERROR object too large for cache\r\nMN\r\n", 3)
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::Unattributed("SERVER_ERROR object too large for cache".into())
    );
}

#[tokio::test]
async fn replies_outside_the_protocol_fail_the_exchange() {
    for replies in [
        "NS O3\r\nMN\r\n",
        "NS\r\nMN\r\n",
        "HD O0\r\nMN\r\n",
        "VALUE x 0 1\r\nMN\r\n",
        "MN",
        "",
    ] {
        assert!(answered(replies, 3).await.is_err(), "{replies:?} accepted");
    }
    let endless = format!("NS {}\r\nMN\r\n", "O".repeat(4096));
    assert!(answered(&endless, 3).await.is_err(), "a line past the bound accepted");
    let flood = "NS O0\r\n".repeat(4) + "MN\r\n";
    assert!(answered(&flood, 3).await.is_err(), "more refusals than keys accepted");
}
