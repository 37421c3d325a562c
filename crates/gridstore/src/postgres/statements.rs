//! How statements reach the server (each execution in an `sql` tracing span named by
//! [`statement_name`], never with parameter values): named and cached per connection (the default), or on the
//! unnamed statement so that no named prepared statement outlives its transaction
//! ([`PgConfig::with_statement_cache`](super::PgConfig::with_statement_cache)`(false)`, for
//! PgBouncer in transaction mode).
//!
//! With the cache, [`PgPool::prepare`](super::PgPool::prepare) is deadpool's `prepare_cached`:
//! one `Parse` per statement text and connection, then one round trip per execution.
//!
//! Without it, an execution is one round trip of `Parse` (unnamed, with the parameter types) +
//! `Bind` + `Describe` + `Execute` + `Sync` (tokio-postgres' `query_typed`). The parameter
//! types of a statement text are learned once per pool and kept in a map: inside a
//! transaction, by preparing it there and closing it before the transaction ends; outside one,
//! on a dedicated connection of the pool (opened on the first such lookup, one at a time)
//! inside `begin` … `rollback`. A transaction pooler keeps a client on one server connection
//! for a whole transaction, so a named statement never meets another server connection.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Instrument as _;

mod name;

pub use name::statement_name;

use deadpool_postgres::StatementCache;
use futures_util::TryStreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use super::{PgTls, PgTransaction};

/// Parameters of one statement.
type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A pooled connection, a transaction on one, or a [`PgTransaction`] (whose `BEGIN` and
/// `COMMIT` share round trips with statements); see the [module docs](self).
pub trait PgConnection: Sync + sealed::Sealed {
    /// Whether statements on it run inside an explicit transaction.
    #[doc(hidden)]
    fn in_transaction(&self) -> bool;
    /// The driver's client: a transaction's statements are sent on its connection's client.
    #[doc(hidden)]
    fn driver(&self) -> &tokio_postgres::Client;
    /// The connection's cache of named statements.
    #[doc(hidden)]
    fn statement_cache(&self) -> &StatementCache;
}

impl PgConnection for deadpool_postgres::Client {
    fn in_transaction(&self) -> bool {
        false
    }
    fn driver(&self) -> &tokio_postgres::Client {
        self
    }
    fn statement_cache(&self) -> &StatementCache {
        &self.statement_cache
    }
}

impl PgConnection for deadpool_postgres::Transaction<'_> {
    fn in_transaction(&self) -> bool {
        true
    }
    fn driver(&self) -> &tokio_postgres::Client {
        self.client()
    }
    fn statement_cache(&self) -> &StatementCache {
        &self.statement_cache
    }
}

impl PgConnection for PgTransaction {
    fn in_transaction(&self) -> bool {
        self.begun()
    }
    fn driver(&self) -> &tokio_postgres::Client {
        self.client()
    }
    fn statement_cache(&self) -> &StatementCache {
        &self.client().statement_cache
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for deadpool_postgres::Client {}
    impl Sealed for deadpool_postgres::Transaction<'_> {}
    impl Sealed for super::PgTransaction {}
}

/// A statement ready to run on the connection it was prepared for (see
/// [`PgPool::prepare`](super::PgPool::prepare)). The request goes out when the returned future
/// is first polled, so futures joined in order keep their order on the wire.
#[derive(Debug, Clone)]
pub struct PgStatement(Kind);

#[derive(Debug, Clone)]
enum Kind {
    Named(Statement, Arc<str>),
    Unnamed { sql: Arc<str>, types: Arc<[Type]> },
}

impl PgStatement {
    /// The `sql` span of one execution: `db.statement` is [`statement_name`] of its text.
    fn span(&self) -> tracing::Span {
        let sql = match &self.0 {
            Kind::Named(_, sql) | Kind::Unnamed { sql, .. } => sql,
        };
        tracing::info_span!(
            "sql",
            db.system = "postgresql",
            db.statement = statement_name(sql)
        )
    }

    /// A statement whose parameter types are given: always sent on the unnamed statement in
    /// one round trip, needs no prepare, and works the same with or without the statement
    /// cache (e.g. for functions that take any connection).
    pub fn unnamed(sql: &str, types: &[Type]) -> Self {
        Self(Kind::Unnamed {
            sql: Arc::from(sql),
            types: Arc::from(types),
        })
    }

    /// Runs the statement and returns its rows.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub async fn query<C: PgConnection>(
        &self,
        client: &C,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        async {
            match &self.0 {
                Kind::Named(statement, _) => client.driver().query(statement, params).await,
                // Boxed: the driver's typed futures are large, and callers join several.
                Kind::Unnamed { sql, types } => {
                    Box::pin(async move {
                        let params = typed(params, types);
                        client.driver().query_typed(sql, &params).await
                    })
                    .await
                }
            }
        }
        .instrument(self.span())
        .await
    }

    /// Runs the statement and returns its only row, if any.
    ///
    /// # Errors
    ///
    /// The driver's error, also when it returns more than one row.
    pub async fn query_opt<C: PgConnection>(
        &self,
        client: &C,
        params: &Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        async {
            match &self.0 {
                Kind::Named(statement, _) => client.driver().query_opt(statement, params).await,
                Kind::Unnamed { sql, types } => {
                    Box::pin(async move {
                        let params = typed(params, types);
                        client.driver().query_typed_opt(sql, &params).await
                    })
                    .await
                }
            }
        }
        .instrument(self.span())
        .await
    }

    /// Runs the statement and returns its one row.
    ///
    /// # Errors
    ///
    /// The driver's error, also when it returns no row or more than one.
    pub async fn query_one<C: PgConnection>(
        &self,
        client: &C,
        params: &Params<'_>,
    ) -> Result<Row, tokio_postgres::Error> {
        async {
            match &self.0 {
                Kind::Named(statement, _) => client.driver().query_one(statement, params).await,
                Kind::Unnamed { sql, types } => {
                    Box::pin(async move {
                        let params = typed(params, types);
                        client.driver().query_typed_one(sql, &params).await
                    })
                    .await
                }
            }
        }
        .instrument(self.span())
        .await
    }

    /// Runs the statement and returns the number of rows it affected.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub async fn execute<C: PgConnection>(
        &self,
        client: &C,
        params: &Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        async {
            match &self.0 {
                Kind::Named(statement, _) => client.driver().execute(statement, params).await,
                Kind::Unnamed { sql, types } => {
                    Box::pin(async move {
                        let params = typed(params, types);
                        let stream = client.driver().query_typed_raw(sql, params).await?;
                        futures_util::pin_mut!(stream);
                        while stream.try_next().await?.is_some() {}
                        Ok(stream.rows_affected().unwrap_or(0))
                    })
                    .await
                }
            }
        }
        .instrument(self.span())
        .await
    }
}

/// Pairs parameters with their types (a count mismatch is reported by the server).
fn typed<'a>(params: &Params<'a>, types: &[Type]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params
        .iter()
        .copied()
        .zip(
            types
                .iter()
                .cloned()
                .chain(std::iter::repeat(Type::UNKNOWN)),
        )
        .collect()
}

/// The statement policy of one pool, and the parameter types learned so far.
#[derive(Clone)]
pub(super) struct Statements {
    inner: Option<Arc<Uncached>>,
}

/// What the unnamed-statement mode needs: the learned types, and how to open the connection
/// that learns types outside transactions.
struct Uncached {
    types: Mutex<HashMap<Arc<str>, Arc<[Type]>>>,
    describer: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    config: tokio_postgres::Config,
    tls: PgTls,
}

impl fmt::Debug for Statements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statements")
            .field("cache", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}

impl Statements {
    /// Named statements cached per connection.
    pub(super) fn cached() -> Self {
        Self { inner: None }
    }

    /// Unnamed statements; types are learned outside transactions on a connection opened
    /// with `config` and `tls`.
    pub(super) fn uncached(config: tokio_postgres::Config, tls: PgTls) -> Self {
        Self {
            inner: Some(Arc::new(Uncached {
                types: Mutex::new(HashMap::new()),
                describer: tokio::sync::Mutex::new(None),
                config,
                tls,
            })),
        }
    }

    /// Prepares `sql` for `client` (see the [module docs](self)).
    pub(super) async fn prepare<C: PgConnection>(
        &self,
        client: &C,
        sql: &str,
    ) -> Result<PgStatement, tokio_postgres::Error> {
        let Some(uncached) = &self.inner else {
            let statement = client
                .statement_cache()
                .prepare(client.driver(), sql)
                .await?;
            return Ok(PgStatement(Kind::Named(statement, Arc::from(sql))));
        };
        if let Some((sql, types)) = uncached.known(sql) {
            return Ok(PgStatement(Kind::Unnamed { sql, types }));
        }
        // Boxed: this runs once per statement text, and callers join several prepares.
        let types: Arc<[Type]> = if client.in_transaction() {
            // Closed (on drop) before anything else this transaction sends.
            Box::pin(async {
                Ok::<_, tokio_postgres::Error>(Arc::from(
                    client.driver().prepare(sql).await?.params(),
                ))
            })
            .await?
        } else {
            Box::pin(uncached.describe_outside_transactions(sql)).await?
        };
        let sql: Arc<str> = Arc::from(sql);
        uncached
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql.clone(), types.clone());
        Ok(PgStatement(Kind::Unnamed { sql, types }))
    }
}

impl Uncached {
    fn known(&self, sql: &str) -> Option<(Arc<str>, Arc<[Type]>)> {
        let types = self.types.lock().unwrap_or_else(PoisonError::into_inner);
        types
            .get_key_value(sql)
            .map(|(sql, types)| (sql.clone(), types.clone()))
    }

    /// Learns the parameter types of `sql` on the describing connection, inside a transaction
    /// that the prepared statement does not outlive.
    async fn describe_outside_transactions(
        &self,
        sql: &str,
    ) -> Result<Arc<[Type]>, tokio_postgres::Error> {
        let mut describer = self.describer.lock().await;
        let client = match describer.take() {
            Some(client) if !client.is_closed() => client,
            _ => {
                let (client, connection) = self.config.connect(self.tls.clone()).await?;
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "statement describing connection ended");
                    }
                });
                client
            }
        };
        client.batch_execute("begin").await?;
        let described = client.prepare(sql).await.map(|s| Arc::from(s.params()));
        client.batch_execute("rollback").await?;
        *describer = Some(client);
        described
    }
}
