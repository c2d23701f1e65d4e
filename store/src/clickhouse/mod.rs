//! The production store on ClickHouse (18.16 here, current versions in production).
//!
//! Uses the official `clickhouse` crate over HTTP with validation off (18.16 lacks
//! `RowBinaryWithNamesAndTypes`) and client-side `?` binding (18.16 has no server-side query
//! parameters). Bodies are LZ4-compressed both ways unless the server is on this machine
//! ([`compression_for`]). Tables are ReplacingMergeTree; every read deduplicates itself
//! (`LIMIT 1 BY id`, `uniqExact(id)`, max(version) per id) instead of trusting merges to have run,
//! and nothing is counted at insert time, so replays never double a count.

use ::clickhouse::{Client, Compression};
use async_trait::async_trait;

use crate::filter::{Dialect, Filter, Value};
use crate::migrations::{is_applied_add_column, CLICKHOUSE};
use crate::{Lifecycle, StoreError};

mod accesses;
mod analyses;
mod analysis_rows;
mod events;
mod findings;
mod retention;
mod rows;
mod services;
mod trace_list;

/// Records which migrations ran; created before any migration.
const SCHEMA_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, applied_at DateTime DEFAULT now()) \
    ENGINE = ReplacingMergeTree() ORDER BY version";

/// [`Lifecycle::data_version`]: the names of the database's active parts, sorted. A MergeTree
/// part is immutable and its name unique for the table's lifetime (it holds the part's block
/// numbers, which are never reused, its merge level and its mutation version), so the data of
/// every table is a function of these names: an insert adds a part, a prune drops some, a merge
/// or a mutation replaces some by new names. Two equal lists mean no change between them (a
/// merge alone changes the list too, which costs one read, not a wrong answer). About 1.8 ms of
/// ClickHouse CPU, where a list page is 15-40 ms. Only the server the store connects to is
/// described: behind a balancer of replicas, reads may go to another replica, as they already
/// may for every read.
const DATA_VERSION_SQL: &str = "SELECT arrayStringConcat(arraySort(groupArray(concat(table, '/', \
     name))), ' ') FROM system.parts WHERE database = ? AND active";

/// The ClickHouse [`Store`](crate::Store): every role, one file each in this folder. Cloning is cheap (the HTTP client is shared).
#[derive(Clone)]
pub struct ClickHouseStore {
    pub(crate) client: Client,
    url: String,
    database: String,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("url", &self.url)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    /// Connects to the ClickHouse HTTP interface at `url` (e.g. `http://127.0.0.1:8123`) and
    /// creates `database` if it is missing. Call [`Lifecycle::migrate`] before use.
    ///
    /// Settings in the URL's query string (`http://host:8123/?log_queries=1`) are sent with
    /// every query and insert, as ClickHouse's HTTP interface takes them.
    ///
    /// `database` must be a plain identifier (letters, digits, `_`, not starting with a digit).
    /// Fails with [`StoreError::Unreachable`] when the server does not answer.
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::InvalidArgument(format!(
                "ClickHouse URL {url:?} must start with http:// (the HTTP interface, port 8123 by default)"
            )));
        }
        if !valid_identifier(database) {
            return Err(StoreError::InvalidArgument(format!(
                "ClickHouse database name {database:?} must be letters, digits and '_', not starting with a digit"
            )));
        }
        let ServerUrl {
            server,
            settings,
            compression,
        } = ServerUrl::parse(url)?;
        let base = settings.into_iter().fold(
            Client::default()
                .with_url(server)
                .with_validation(false)
                .with_compression(compression),
            |client, (name, value)| client.with_setting(name, value),
        );
        base.query_raw(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await
            .map_err(|e| StoreError::clickhouse(url, "create database", e))?;
        Ok(ClickHouseStore {
            client: base.with_database(database),
            url: url.to_string(),
            database: database.to_string(),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database holding Raceway's tables.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Maps a failure of `operation` to a [`StoreError`] naming this server.
    pub(crate) fn err(
        &self,
        operation: &str,
    ) -> impl FnOnce(::clickhouse::error::Error) -> StoreError + '_ {
        let operation = operation.to_string();
        move |e| StoreError::clickhouse(&self.url, &operation, e)
    }

    /// One page of the rows of `select_sql` (the paging clause is appended) and how many rows
    /// it has in all, both bound to `filter`'s values: the shape of every paginated listing.
    /// The two queries run at once (two pooled connections), so a page costs one round trip of
    /// latency: 18.16 has no window functions to count beside the page in one query.
    pub(crate) async fn fetch_page<T>(
        &self,
        what: &str,
        select_sql: &str,
        filter: &Filter,
        (limit, offset): (u32, u32),
    ) -> Result<(Vec<T>, u64), StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowRead,
    {
        let (clause, page) = Dialect::ClickHouse.page(limit, offset);
        let page_sql = format!("{select_sql} {clause}");
        let total_sql = format!("SELECT toUInt64(count()) FROM ({select_sql})");
        self.fetch_page_counted(
            what,
            (&page_sql, &filter.params_with(&page)),
            (&total_sql, filter.params()),
        )
        .await
    }

    /// [`ClickHouseStore::fetch_page`] with a page query and a total query of their own
    /// (`(sql, values)` each): for a listing whose total can be counted from fewer columns
    /// than its page reads (ClickHouse reads every column a subquery names under a
    /// `LIMIT 1 BY`, even those the count drops).
    pub(crate) async fn fetch_page_counted<T>(
        &self,
        what: &str,
        (page_sql, page_params): (&str, &[Value]),
        (total_sql, total_params): (&str, &[Value]),
    ) -> Result<(Vec<T>, u64), StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowRead,
    {
        let rows = async {
            bind_all(self.client.query(page_sql), page_params)
                .fetch_all::<T>()
                .await
                .map_err(self.err(&format!("list {what}")))
        };
        let total = async {
            bind_all(self.client.query(total_sql), total_params)
                .fetch_one::<u64>()
                .await
                .map_err(self.err(&format!("count {what}")))
        };
        tokio::try_join!(rows, total)
    }

    /// The rows of `sql` bound to `params`; failures name `operation`.
    pub(crate) async fn fetch_rows<T>(
        &self,
        operation: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<T>, StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowRead,
    {
        bind_all(self.client.query(sql), params)
            .fetch_all()
            .await
            .map_err(self.err(operation))
    }

    /// Inserts `rows` into `table` in one INSERT (none when there are no rows).
    pub(crate) async fn insert_rows<T>(
        &self,
        table: &str,
        rows: impl IntoIterator<Item = T> + Send,
    ) -> Result<(), StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowWrite + Send,
    {
        self.insert_values::<T>(table, rows).await
    }

    /// Inserts `rows` of type `T` into `table` in one INSERT (none when there are no rows); the
    /// rows may borrow what they write (`T::Value<'r>`), so they are serialised as they come
    /// without a copy of their text.
    pub(crate) async fn insert_values<'r, T>(
        &self,
        table: &str,
        rows: impl IntoIterator<Item = T::Value<'r>> + Send,
    ) -> Result<(), StoreError>
    where
        T: ::clickhouse::Row + ::clickhouse::RowWrite,
        T::Value<'r>: Send,
    {
        let mut rows = rows.into_iter().peekable();
        if rows.peek().is_none() {
            return Ok(());
        }
        let operation = format!("insert {table}");
        let mut insert = self
            .client
            .insert::<T>(table)
            .await
            .map_err(self.err(&operation))?;
        for row in rows {
            insert.write(&row).await.map_err(self.err(&operation))?;
        }
        insert.end().await.map_err(self.err(&operation))
    }

    /// The client, with the database selected (tests only).
    #[cfg(test)]
    pub(crate) fn client_for_tests(&self) -> &Client {
        &self.client
    }

    /// Drops the whole database (tests only).
    #[cfg(test)]
    pub(crate) async fn drop_database(&self) -> Result<(), StoreError> {
        self.client
            .query_raw(&format!("DROP DATABASE IF EXISTS {}", self.database))
            .execute()
            .await
            .map_err(self.err("drop database"))
    }
}

/// What a ClickHouse URL says: the server (the URL without its query string), the settings in
/// its query string, and the compression to use with that server.
struct ServerUrl {
    server: String,
    settings: Vec<(String, String)>,
    compression: Compression,
}

impl ServerUrl {
    fn parse(url: &str) -> Result<ServerUrl, StoreError> {
        let mut parsed = ::url::Url::parse(url)
            .map_err(|e| StoreError::InvalidArgument(format!("ClickHouse URL {url:?}: {e}")))?;
        let settings = parsed.query_pairs().into_owned().collect();
        parsed.set_query(None);
        let compression = compression_for(&parsed);
        Ok(ServerUrl {
            server: parsed.into(),
            settings,
            compression,
        })
    }
}

/// LZ4 for a server reached over a network, none for one on this machine (a loopback address
/// or `localhost`).
///
/// Compression trades CPU at both ends for bytes on the wire. Across a network the bytes are
/// what is scarce: inserts of event payloads shrink several times. Over loopback they cost
/// nothing, and compressing every insert here and decompressing it in the server (and the
/// reverse for every read) was CPU taken from the same cores: a few percent of `raceway`'s
/// samples in `lz4_flex`'s compressor alone when ClickHouse ran beside it. A loopback URL that
/// is a tunnel to a remote server sends uncompressed bodies through the tunnel; name the
/// server by a non-loopback address to keep them compressed.
fn compression_for(server: &::url::Url) -> Compression {
    let on_this_machine = match server.host() {
        Some(::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(::url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(::url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if on_this_machine {
        Compression::None
    } else {
        Compression::Lz4
    }
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Binds `params` to the `?`s of `q`, in order.
pub(crate) fn bind_all(
    mut q: ::clickhouse::query::Query,
    params: &[Value],
) -> ::clickhouse::query::Query {
    for p in params {
        q = match p {
            Value::Str(s) => q.bind(s.as_str()),
            Value::I64(n) => q.bind(*n),
        };
    }
    q
}

#[async_trait]
impl Lifecycle for ClickHouseStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.client
            .query_raw(SCHEMA_MIGRATIONS_DDL)
            .execute()
            .await
            .map_err(self.err("create schema_migrations"))?;
        let applied: Vec<u32> = self
            .client
            .query("SELECT DISTINCT version FROM schema_migrations")
            .fetch_all()
            .await
            .map_err(self.err("read schema_migrations"))?;
        for migration in CLICKHOUSE {
            if applied.contains(&migration.version) {
                continue;
            }
            for statement in migration.statements() {
                let Err(e) = self.client.query_raw(&statement).execute().await else {
                    continue;
                };
                let message = StoreError::clickhouse(&self.url, "DDL", e).to_string();
                if is_applied_add_column(&statement, &message) {
                    tracing::info!(version = migration.version, %message,
                        "columns already added by an earlier run");
                    continue;
                }
                return Err(StoreError::Migration {
                    version: migration.version,
                    name: migration.name.to_string(),
                    message,
                });
            }
            self.client
                .query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
                .bind(migration.version)
                .bind(migration.name)
                .execute()
                .await
                .map_err(self.err("record migration"))?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                database = %self.database,
                "applied ClickHouse migration"
            );
        }
        Ok(())
    }

    async fn data_version(&self) -> Result<Option<String>, StoreError> {
        let names: String = self
            .client
            .query(DATA_VERSION_SQL)
            .bind(self.database.as_str())
            .fetch_one()
            .await
            .map_err(self.err("read the data version"))?;
        Ok(Some(names))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let one: u8 = self
            .client
            .query("SELECT toUInt8(1)")
            .fetch_one()
            .await
            .map_err(self.err("ping"))?;
        if one == 1 {
            Ok(())
        } else {
            Err(StoreError::ClickHouse {
                operation: "ping".into(),
                message: format!("SELECT 1 returned {one}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compression_of(url: &str) -> Compression {
        ServerUrl::parse(url).expect("valid URL").compression
    }

    #[test]
    fn bodies_are_compressed_only_for_a_server_on_another_machine() {
        for local in [
            "http://127.0.0.1:8123",
            "http://127.0.0.5:8123/?log_queries=1",
            "http://localhost:8123",
            "http://LOCALHOST:8123",
            "http://[::1]:8123",
        ] {
            assert_eq!(compression_of(local), Compression::None, "{local}");
        }
        for remote in [
            "http://10.0.0.7:8123",
            "https://clickhouse.internal:8443",
            "http://[2001:db8::1]:8123",
            "http://localhost.example.com:8123",
        ] {
            assert_eq!(compression_of(remote), Compression::Lz4, "{remote}");
        }
    }
}
