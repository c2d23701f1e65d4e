//! Optional API keys: `Authorization: Bearer KEY` or `X-Raceway-Key: KEY`.

use axum::http::HeaderMap;

/// Who sent an authorized request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// No keys are configured: anyone may post.
    Anonymous,
    /// The request carried the configured key at this index.
    Key(usize),
}

/// The caller, or `None` when keys are configured and the request carries none of them.
pub(crate) fn authorize(headers: &HeaderMap, api_keys: &[String]) -> Option<Caller> {
    if api_keys.is_empty() {
        return Some(Caller::Anonymous);
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let header_key = headers.get("x-raceway-key").and_then(|v| v.to_str().ok());
    [bearer, header_key]
        .into_iter()
        .flatten()
        .find_map(|given| api_keys.iter().position(|key| key == given.trim()))
        .map(Caller::Key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    #[test]
    fn no_keys_configured_lets_everyone_in() {
        assert_eq!(authorize(&HeaderMap::new(), &[]), Some(Caller::Anonymous));
    }

    #[test]
    fn bearer_and_custom_header_are_accepted() {
        let keys = vec!["s3cret".to_string(), "other".to_string()];
        assert_eq!(
            authorize(&headers("authorization", "Bearer s3cret"), &keys),
            Some(Caller::Key(0))
        );
        assert_eq!(
            authorize(&headers("x-raceway-key", "other"), &keys),
            Some(Caller::Key(1))
        );
        assert_eq!(
            authorize(&headers("authorization", "Bearer nope"), &keys),
            None
        );
        assert_eq!(authorize(&headers("authorization", "s3cret"), &keys), None);
        assert_eq!(authorize(&HeaderMap::new(), &keys), None);
    }
}
