//! Searching the request log and the audit log: filters, pages and opaque cursors.
//!
//! Both logs are read newest first. A cursor is the position (time, id) of the last record a
//! page returned, encoded so callers treat it as a token: the next page starts strictly after
//! it, so records written meanwhile never shift a page or repeat.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{StoreError, StoreResult};
use crate::model::audit::AuditEvent;
use crate::model::receipt::ReceiptRecord;
use crate::time::Timestamp;

/// The largest page a query returns, whatever it asks for.
pub const MAX_PAGE: usize = 1000;
/// The page size when a query asks for none.
pub const DEFAULT_PAGE: usize = 50;

/// An opaque position in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn after(at: Timestamp, id: &str) -> Self {
        Cursor(URL_SAFE_NO_PAD.encode(format!("{}:{id}", at.millis())))
    }

    /// The token to hand to a client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token a client sent back; checked when a store decodes it.
    pub fn from_token(token: &str) -> Self {
        Cursor(token.to_owned())
    }

    pub fn position(&self) -> StoreResult<(Timestamp, String)> {
        let invalid = || StoreError::Invalid("the cursor is not one this store issued".to_owned());
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (at, id) = text.split_once(':').ok_or_else(invalid)?;
        let at = at.parse::<i64>().map_err(|_| invalid())?;
        Ok((Timestamp(at), id.to_owned()))
    }
}

/// One page of results, newest first, and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` matches: the extra one only says that more follow.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        position: impl Fn(&T) -> Cursor,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(position)
        } else {
            None
        };
        Page { items, next }
    }
}

fn clamp_limit(limit: usize) -> usize {
    match limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// A search of an organisation's request log. Every filter set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiptQuery {
    pub org_id: String,
    /// Inclusive.
    pub from: Option<Timestamp>,
    /// Exclusive.
    pub until: Option<Timestamp>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: Option<u16>,
    pub key_id: Option<String>,
    pub request_id: Option<String>,
    /// Page size: 0 means [`DEFAULT_PAGE`], more than [`MAX_PAGE`] means [`MAX_PAGE`].
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl ReceiptQuery {
    pub fn for_org(org_id: &str) -> Self {
        ReceiptQuery {
            org_id: org_id.to_owned(),
            ..ReceiptQuery::default()
        }
    }

    pub fn page_size(&self) -> usize {
        clamp_limit(self.limit)
    }

    /// Whether `record` passes every filter and is still alive at `now` (cursor aside).
    pub fn matches(&self, record: &ReceiptRecord, now: Timestamp) -> bool {
        record.org_id == self.org_id
            && record.expires_at > now
            && self.from.is_none_or(|from| record.at >= from)
            && self.until.is_none_or(|until| record.at < until)
            && self.model.as_ref().is_none_or(|m| *m == record.model)
            && self.provider.as_ref().is_none_or(|p| *p == record.provider)
            && self.status.is_none_or(|s| s == record.status)
            && self
                .key_id
                .as_ref()
                .is_none_or(|k| record.key_id.as_ref() == Some(k))
            && self
                .request_id
                .as_ref()
                .is_none_or(|r| *r == record.request_id)
    }

    pub fn position_of(record: &ReceiptRecord) -> Cursor {
        Cursor::after(record.at, &record.request_id)
    }
}

/// A search of an organisation's audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub org_id: String,
    /// Inclusive.
    pub from: Option<Timestamp>,
    /// Exclusive.
    pub until: Option<Timestamp>,
    pub action: Option<String>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl AuditQuery {
    pub fn for_org(org_id: &str) -> Self {
        AuditQuery {
            org_id: org_id.to_owned(),
            ..AuditQuery::default()
        }
    }

    pub fn page_size(&self) -> usize {
        clamp_limit(self.limit)
    }

    pub fn matches(&self, event: &AuditEvent, now: Timestamp) -> bool {
        event.org_id == self.org_id
            && event.expires_at > now
            && self.from.is_none_or(|from| event.at >= from)
            && self.until.is_none_or(|until| event.at < until)
            && self.action.as_ref().is_none_or(|a| *a == event.action)
    }

    pub fn position_of(event: &AuditEvent) -> Cursor {
        Cursor::after(event.at, &event.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_tokens() {
        let cursor = Cursor::after(Timestamp(1234), "req:1");
        let (at, id) = Cursor::from_token(cursor.as_str()).position().unwrap();
        assert_eq!((at, id.as_str()), (Timestamp(1234), "req:1"));
        assert!(Cursor::from_token("!!").position().is_err());
        assert!(
            Cursor::from_token(&URL_SAFE_NO_PAD.encode("x:y"))
                .position()
                .is_err()
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(ReceiptQuery::for_org("o").page_size(), DEFAULT_PAGE);
        let mut q = ReceiptQuery::for_org("o");
        q.limit = 1_000_000;
        assert_eq!(q.page_size(), MAX_PAGE);
    }
}
