//! A small blocking HTTP(S) client with a timeout and a size limit.

use std::time::Duration;

use crate::DataError;

/// How long a request may take, connection to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body we accept.
pub const MAX_DOWNLOAD_BYTES: u64 = 32 * 1024 * 1024;

/// Downloads `url`; any status other than 2xx is an error.
pub fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, DataError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(DataError::BadUrl { url: url.into() });
    }
    let network = |reason: String| DataError::Network {
        url: url.into(),
        reason,
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|err| network(describe(err)))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(DataError::HttpStatus {
            url: url.into(),
            status,
        });
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .read_to_vec()
        .map_err(|err| network(describe(err)))
}

fn describe(err: ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the response is larger than {limit} bytes")
        }
        other => other.to_string(),
    }
}
