//! `BreakerStore` on SQLite: one row per model. A replacement is an `UPDATE` that names the
//! version it read (or an `INSERT` for the first write); SQLite runs writes one at a time, across
//! processes too, so of two writers that read the same version only one changes the row.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use crate::error::{StoreError, StoreResult};
use crate::model::breaker::{BreakerRecord, SharedBreaker};
use crate::ports::BreakerStore;
use crate::sqlite::{SqliteStore, conflict_or_backend, sqlite_error};
use crate::time::Timestamp;

const COLUMNS: &str = "model, version, opened_at, half_open, probes, probed_at";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BreakerRecord> {
    let version: i64 = row.get(1)?;
    let probes: i64 = row.get(4)?;
    Ok(BreakerRecord {
        model: row.get(0)?,
        version: u64::try_from(version).unwrap_or(0),
        breaker: SharedBreaker {
            opened_at: row.get::<_, Option<i64>>(2)?.map(Timestamp),
            half_open: row.get(3)?,
            probes: u32::try_from(probes).unwrap_or(0),
            probed_at: row.get::<_, Option<i64>>(5)?.map(Timestamp),
        },
    })
}

fn conflict(model: &str, expected_version: u64) -> StoreError {
    StoreError::Conflict(format!(
        "breaker {model} is no longer at version {expected_version}"
    ))
}

#[async_trait]
impl BreakerStore for SqliteStore {
    async fn list_breakers(&self) -> StoreResult<Vec<BreakerRecord>> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare(&format!("SELECT {COLUMNS} FROM breakers ORDER BY model"))
                .map_err(sqlite_error)?;
            let rows = stmt.query_map([], read_row).map_err(sqlite_error)?;
            rows.map(|row| row.map_err(sqlite_error)).collect()
        })
        .await
    }

    async fn get_breaker(&self, model: &str) -> StoreResult<BreakerRecord> {
        let model = model.to_owned();
        self.call(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM breakers WHERE model = ?1"),
                [&model],
                read_row,
            )
            .optional()
            .map_err(sqlite_error)?
            .ok_or_else(|| StoreError::NotFound(format!("breaker {model}")))
        })
        .await
    }

    async fn replace_breaker(
        &self,
        model: &str,
        expected_version: u64,
        breaker: &SharedBreaker,
    ) -> StoreResult<BreakerRecord> {
        let record = BreakerRecord {
            model: model.to_owned(),
            version: expected_version.saturating_add(1),
            breaker: *breaker,
        };
        self.call(move |conn| {
            let b = &record.breaker;
            let values = params![
                record.model,
                i64::try_from(record.version).unwrap_or(i64::MAX),
                b.opened_at.map(Timestamp::millis),
                b.half_open,
                i64::from(b.probes),
                b.probed_at.map(Timestamp::millis),
                i64::try_from(expected_version).unwrap_or(i64::MAX),
            ];
            if expected_version == 0 {
                conn.execute(
                    &format!("INSERT INTO breakers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    &values[..6],
                )
                .map_err(|e| conflict_or_backend(e, &format!("breaker {} exists", record.model)))?;
            } else {
                let changed = conn
                    .execute(
                        "UPDATE breakers SET version = ?2, opened_at = ?3, half_open = ?4, \
                         probes = ?5, probed_at = ?6 WHERE model = ?1 AND version = ?7",
                        values,
                    )
                    .map_err(sqlite_error)?;
                if changed == 0 {
                    return Err(conflict(&record.model, expected_version));
                }
            }
            Ok(record)
        })
        .await
    }
}
