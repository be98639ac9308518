//! Plain HTTP on loopback: a server that answers as a test says (an exchange's REST API, say),
//! and a client that reads the daemon's status server, `/metrics` included.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An HTTP server on loopback answering each request with `answer(path and query)`, each on a
/// thread of its own so a slow answer holds up no other; returns its base URL.
pub fn http_server(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", server.server_addr().to_ip().unwrap());
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let (status, text) = answer(request.url());
                let _ = request.respond(tiny_http::Response::from_string(text).with_status_code(status));
            });
        }
    });
    addr
}

/// `GET url`: the status code and the body.
pub fn http_get(url: &str) -> (u16, String) {
    let (status, _, body) = http_response(url);
    (status, body)
}

/// `GET url`: the status code, the header lines and the body.
pub fn http_response(url: &str) -> (u16, String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head.to_string(), body.to_string())
}

/// One scrape of `/metrics`: each series (`name{labels}`) and its value.
pub fn scrape(url: &str) -> BTreeMap<String, f64> {
    let (status, body) = http_get(&format!("{url}/metrics"));
    assert_eq!(status, 200, "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "not OpenMetrics text:\n{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                series.to_string(),
                value.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

/// The value of `series`, failing with the scrape when it is missing.
pub fn value(metrics: &BTreeMap<String, f64>, series: &str) -> f64 {
    *metrics
        .get(series)
        .unwrap_or_else(|| panic!("{series} is not exported; got:\n{metrics:#?}"))
}
