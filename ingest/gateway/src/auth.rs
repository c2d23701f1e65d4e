//! Optional API keys: `Authorization: Bearer KEY` or `X-Raceway-Key: KEY`.

use axum::http::HeaderMap;

/// True when no keys are configured, or the request carries one of them.
pub(crate) fn is_authorized(headers: &HeaderMap, api_keys: &[String]) -> bool {
    if api_keys.is_empty() {
        return true;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let header_key = headers.get("x-raceway-key").and_then(|v| v.to_str().ok());
    [bearer, header_key]
        .into_iter()
        .flatten()
        .any(|given| api_keys.iter().any(|key| key == given.trim()))
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
        assert!(is_authorized(&HeaderMap::new(), &[]));
    }

    #[test]
    fn bearer_and_custom_header_are_accepted() {
        let keys = vec!["s3cret".to_string()];
        assert!(is_authorized(
            &headers("authorization", "Bearer s3cret"),
            &keys
        ));
        assert!(is_authorized(&headers("x-raceway-key", "s3cret"), &keys));
        assert!(!is_authorized(
            &headers("authorization", "Bearer nope"),
            &keys
        ));
        assert!(!is_authorized(&headers("authorization", "s3cret"), &keys));
        assert!(!is_authorized(&HeaderMap::new(), &keys));
    }
}
