//! `drift --notify URL`: one JSON POST with a Slack-compatible `text`. The
//! URL is a secret (a webhook token): it is never printed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::Full;

/// The URL as a request target, checked before anything is read.
pub fn check(url: &str) -> Result<hyper::Uri> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| anyhow::anyhow!("--notify: the value is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
        bail!("--notify: only http:// and https:// URLs with a host are supported");
    }
    Ok(uri)
}

pub async fn post(url: &str, text: &str) -> Result<()> {
    let uri = check(url)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("loading the system's root certificates")?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https);
    let body = serde_json::to_vec(&serde_json::json!({ "text": text }))?;
    let req = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .context("the webhook did not answer within 30 s")?
        .context("sending to the webhook")?;
    if !resp.status().is_success() {
        bail!("the webhook answered {}", resp.status());
    }
    Ok(())
}
