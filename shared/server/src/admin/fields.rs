//! Request fields shared by the admin endpoints: times as RFC 3339, fields that may be cleared
//! with `null`, IP allowlists as CIDR, page sizes.

use gateway_core::ApiError;
use gateway_store::Timestamp;
use gateway_store::model::query::{DEFAULT_PAGE, MAX_PAGE};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// For `Option<Option<T>>` fields: absent is `None` (leave as is), `null` is `Some(None)`
/// (clear), a value is `Some(Some(v))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An RFC 3339 time in field `param`.
pub fn time(param: &str, text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::invalid_param(
            param,
            format!("`{param}` must be an RFC 3339 time such as `2026-11-26T12:00:00Z`."),
        )
    })
}

pub fn optional_time(param: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| time(param, t)).transpose()
}

/// Networks in CIDR form (`192.0.2.0/24`, `2001:db8::/48`) or single addresses (taken as /32
/// or /128). The error names the entry: `ip_allowlist[2]`.
pub fn allowlist(entries: &[String]) -> Result<Vec<IpNet>, ApiError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ApiError::invalid_param(
                        format!("ip_allowlist[{i}]"),
                        format!("`{entry}` is not an IPv4 or IPv6 network in CIDR form."),
                    )
                })
        })
        .collect()
}

/// A positive limit (requests or tokens per minute) in field `param`.
pub fn positive(param: &str, value: Option<u64>) -> Result<Option<u64>, ApiError> {
    match value {
        Some(0) => Err(ApiError::invalid_param(
            param,
            format!("`{param}` must be at least 1 (leave it out for no limit)."),
        )),
        other => Ok(other),
    }
}

/// A page size: [`DEFAULT_PAGE`] when absent, 1 to [`MAX_PAGE`] when given.
pub fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_param(
            "limit",
            format!("`limit` must be 1 to {MAX_PAGE}."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_take_cidr_and_single_addresses_and_name_the_bad_entry() {
        let list = allowlist(&["192.0.2.7/24".into(), "2001:db8::1".into()]).unwrap();
        assert_eq!(list[0].to_string(), "192.0.2.0/24");
        assert_eq!(list[1].to_string(), "2001:db8::1/128");
        let error = allowlist(&["10.0.0.0/8".into(), "10.0.0.0/33".into()]).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("ip_allowlist[1]"));
        assert!(allowlist(&["example.com".into()]).is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(MAX_PAGE + 1)).is_err());
        assert_eq!(page_size(Some(MAX_PAGE)).unwrap(), MAX_PAGE);
    }
}
