//! [`TestDatabase`]: one fresh database for one test, dropped afterwards.

use crate::TestkitError;
use crate::runtime::{block_on_own_thread, connect};
use crate::server::keep_requested;

/// The longest database name PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_NAME_LEN: usize = 63;
/// Hex digits of randomness at the end of each name.
const SUFFIX_LEN: usize = 8;

/// A fresh database for one test, on the shared per-binary server, on `TEST_DATABASE_URL`'s
/// server, or on a [`TestPostgres`](crate::TestPostgres).
///
/// Dropping it runs `drop database ... with (force)` (unless `TESTKIT_KEEP=1`); a failure there
/// (e.g. the test stopped the server) is logged, not raised.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    server_url: String,
    keep: bool,
}

impl TestDatabase {
    /// Creates a database named after the current (test) thread on the server `server_url`
    /// points to.
    pub(crate) async fn create_on(server_url: &str) -> Result<Self, TestkitError> {
        let name = database_name(std::thread::current().name());
        let client = connect(server_url).await?;
        // Identifiers cannot be bound as parameters; the name is [a-z0-9_] only.
        client
            .batch_execute(&format!("create database \"{name}\""))
            .await?;
        tracing::debug!(database = %name, "created test database");
        Ok(Self {
            url: with_dbname(server_url, &name),
            name,
            server_url: server_url.to_owned(),
            keep: keep_requested(),
        })
    }

    /// A connection string for this database, usable by `tokio_postgres::Config::from_str`
    /// (e.g. `postgres://postgres@127.0.0.1:54321/t_my_test_1a2b3c4d`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name: `t_<test name>_<random hex>`, at most 63 bytes.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects to this database and spawns the connection task on the current runtime.
    ///
    /// # Panics
    ///
    /// When the connection fails.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await.unwrap_or_else(|error| {
            panic!(
                "testkit: could not connect to test database {}: {error}",
                self.name
            )
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("testkit: TESTKIT_KEEP=1, kept database {}", self.name);
            return;
        }
        // We may be inside the test's runtime, so drop from a thread with its own runtime.
        let dropped = block_on_own_thread(async {
            let client = connect(&self.server_url).await?;
            let statement = format!("drop database if exists \"{}\" with (force)", self.name);
            client.batch_execute(&statement).await
        });
        match dropped {
            Ok(Ok(())) => tracing::debug!(database = %self.name, "dropped test database"),
            Ok(Err(error)) => {
                tracing::warn!(database = %self.name, %error, "could not drop test database");
            }
            Err(error) => {
                tracing::warn!(database = %self.name, %error, "could not drop test database");
            }
        }
    }
}

/// `t_<sanitized thread name>_<random>`: lowercase ASCII letters, digits and single
/// underscores, keeping the end of long test paths (the test's own name), at most 63 bytes.
pub(crate) fn database_name(thread_name: Option<&str>) -> String {
    let mut stem = String::new();
    for c in thread_name.unwrap_or("test").chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('_') {
            stem.push('_');
        }
    }
    let max_stem = MAX_NAME_LEN - "t__".len() - SUFFIX_LEN;
    let stem = stem[stem.len().saturating_sub(max_stem)..].trim_matches('_');
    let stem = if stem.is_empty() { "test" } else { stem };
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{stem}_{}", &random[..SUFFIX_LEN])
}

/// Points a connection string at another database: replaces the path of a URL
/// (`postgres://...`/`postgresql://...`), or appends `dbname=` to a key=value string (the last
/// occurrence wins).
pub(crate) fn with_dbname(server_url: &str, dbname: &str) -> String {
    let url_form = ["postgres://", "postgresql://"]
        .into_iter()
        .find_map(|scheme| Some((scheme, server_url.strip_prefix(scheme)?)));
    let Some((scheme, rest)) = url_form else {
        return format!("{} dbname={dbname}", server_url.trim_end());
    };
    let (before_query, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    let authority = before_query.split('/').next().unwrap_or_default();
    format!("{scheme}{authority}/{dbname}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_test_name_and_fit_postgres_limits() {
        let name = database_name(Some("kv::postgres::Expired_Keys::are-gone"));
        assert!(
            name.starts_with("t_kv_postgres_expired_keys_are_gone_"),
            "{name}"
        );
        assert_eq!(
            name.len(),
            "t_kv_postgres_expired_keys_are_gone_".len() + SUFFIX_LEN
        );
    }

    #[test]
    fn long_names_are_truncated_from_the_front() {
        let long = format!("{}::the_test_itself", "module".repeat(20));
        let name = database_name(Some(&long));
        assert!(name.len() <= MAX_NAME_LEN, "{name}");
        assert!(name.contains("the_test_itself_"), "{name}");
        assert!(!name.starts_with("t__"), "{name}");
    }

    #[test]
    fn unnamed_threads_get_a_generic_name() {
        assert!(database_name(None).starts_with("t_test_"));
        assert!(database_name(Some("::")).starts_with("t_test_"));
    }

    #[test]
    fn two_names_for_the_same_test_differ() {
        assert_ne!(database_name(Some("t")), database_name(Some("t")));
    }

    #[test]
    fn url_forms_get_their_path_replaced() {
        assert_eq!(
            with_dbname(
                "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
                "t_x"
            ),
            "postgres://u:p@127.0.0.1:5432/t_x?sslmode=disable"
        );
        assert_eq!(
            with_dbname("postgresql://h:1", "t_x"),
            "postgresql://h:1/t_x"
        );
        assert_eq!(
            with_dbname("postgres://h/?a=b", "t_x"),
            "postgres://h/t_x?a=b"
        );
    }

    #[test]
    fn key_value_forms_get_a_trailing_dbname() {
        let url = with_dbname("host=localhost dbname=postgres user=me", "t_x");
        let config: tokio_postgres::Config = url.parse().expect("parses");
        assert_eq!(config.get_dbname(), Some("t_x"));
        assert_eq!(config.get_user(), Some("me"));
    }
}
