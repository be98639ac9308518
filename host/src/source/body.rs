//! An exchange's answer read within a bound per endpoint: a peer gone wrong (or a proxy on the
//! way) that answers with an endless or giant body costs no more memory than the bound, and the
//! request fails with the reason, as any failed poll does. `pulse promote --if-better` reads a
//! daemon's status server the same way.

use anyhow::{bail, Context, Result};

/// The largest 24 h tickers answer read. The largest real one is Binance's answer for every
/// symbol, about 3,500 rows of some 600 bytes (2 MB; Bybit's linear list is some 600 rows);
/// this allows eight times that.
pub const MAX_TICKERS_BYTES: usize = 16 << 20;

/// The largest kline answer read: 1,000 rows (the most either exchange serves) take about
/// 150 KB.
pub const MAX_KLINES_BYTES: usize = 4 << 20;

/// The status and body of the answer to `GET url`, failing once the body passes `max_bytes`
/// ([`answer`]).
pub async fn read(client: &reqwest::Client, url: &str, max_bytes: usize) -> Result<(reqwest::StatusCode, Vec<u8>)> {
    let (status, _, body) = answer(client, url, max_bytes).await?;
    Ok((status, body))
}

/// The status, headers and body of the answer to `GET url`, failing once the body passes
/// `max_bytes`: at once when its declared length does, else as soon as what arrived does.
pub async fn answer(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>)> {
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url} failed"))?;
    let too_large = || format!("GET {url}: the answer is larger than the limit of {max_bytes} bytes");
    if response.content_length().is_some_and(|len| len > max_bytes as u64) {
        bail!(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("GET {url}: cannot read the body"))?
    {
        if body.len() + chunk.len() > max_bytes {
            bail!(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((response.status(), response.headers().clone(), body))
}

/// Fails with the status and a short excerpt of `body` unless `status` is a success.
pub fn successful(url: &str, status: reqwest::StatusCode, body: &[u8]) -> Result<()> {
    if !status.is_success() {
        let excerpt = crate::shared::text::sanitise(&String::from_utf8_lossy(&body[..body.len().min(200)]), 200);
        bail!("GET {url}: HTTP {status}: {excerpt}");
    }
    Ok(())
}
