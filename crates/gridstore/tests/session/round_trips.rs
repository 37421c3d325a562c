//! Round trips of `PgSessionStore::save_many`, counted on the wire by a loopback proxy in
//! front of the testkit server.
//!
//! A round trip is a message the client must wait on: a `Sync` (the end of an extended-
//! protocol statement, including a prepare) or a simple `Query`. The pool's liveness check on
//! checkout (an empty simple query, sent only when the connection idled past
//! `verify_after_idle`) belongs to every pooled operation alike, so it is counted apart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridstore::postgres::{PgConfig, PgPool, PgSessionStore};
use gridstore::testing::migrated_pool;
use gridstore::testing::session::session;
use gridstore::{Error, SessionState, SessionStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Startup-phase request codes that keep the client in the startup phase (SSL, GSSAPI).
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// Client-to-server messages counted by the proxy.
#[derive(Default)]
struct Counts {
    round_trips: AtomicU64,
    liveness_checks: AtomicU64,
}

/// Splits the client's byte stream into protocol messages and counts the round trips.
struct Framer {
    counts: Arc<Counts>,
    startup: bool,
    pending: Vec<u8>,
}

impl Framer {
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(used) = self.next_message() {
            self.pending.drain(..used);
        }
    }

    /// Counts the next complete message and returns its length, if one is complete.
    fn next_message(&mut self) -> Option<usize> {
        let header = usize::from(!self.startup);
        let length = self.pending.get(header..header + 4)?;
        let length = u32::from_be_bytes(length.try_into().expect("four bytes"));
        let total = header + usize::try_from(length).expect("fits");
        let message = self.pending.get(..total)?;
        if self.startup {
            let code = u32::from_be_bytes(message[4..8].try_into().expect("four bytes"));
            self.startup = code == SSL_REQUEST || code == GSSENC_REQUEST;
        } else {
            match message[0] {
                b'S' => {
                    self.counts.round_trips.fetch_add(1, Ordering::SeqCst);
                }
                b'Q' if message[5..] == [0] => {
                    self.counts.liveness_checks.fetch_add(1, Ordering::SeqCst);
                }
                b'Q' => {
                    self.counts.round_trips.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            }
        }
        Some(total)
    }
}

/// A loopback proxy to `127.0.0.1:upstream` that counts what clients send through it.
async fn start_proxy(upstream: u16) -> (SocketAddr, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(("127.0.0.1", upstream))
                .await
                .expect("connect upstream");
            let framer = Framer {
                counts: Arc::clone(&shared),
                startup: true,
                pending: Vec::new(),
            };
            tokio::spawn(pump(client, server, framer));
        }
    });
    (addr, counts)
}

/// Forwards both directions until either side closes, framing the client's side. Each chunk
/// is counted before it is forwarded, so a reply never overtakes the count of its request.
async fn pump(client: TcpStream, server: TcpStream, mut framer: Framer) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buffer = vec![0_u8; 64 * 1024];
        while let Ok(read @ 1..) = client_read.read(&mut buffer).await {
            framer.feed(&buffer[..read]);
            if server_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    tokio::join!(upstream, downstream);
}

/// A session store whose one pooled connection goes through a counting proxy.
async fn counted_store() -> (PgSessionStore, Arc<Counts>, testkit::TestDatabase) {
    let db = testkit::database().await;
    migrated_pool(db.url()).await.expect("connect and migrate");
    let direct = PgConfig::from_url(db.url()).expect("testkit url parses");
    let (proxy, counts) = start_proxy(direct.port()).await;
    let config = direct
        .with_host(proxy.ip().to_string())
        .with_port(proxy.port())
        .with_pool_max_size(1);
    let pool = PgPool::connect(&config)
        .await
        .expect("pool through the proxy");
    (PgSessionStore::new(pool), counts, db)
}

/// Round trips (and liveness checks) sent while `op` ran.
async fn counted<T>(counts: &Counts, op: impl Future<Output = T>) -> (T, u64, u64) {
    let trips = counts.round_trips.load(Ordering::SeqCst);
    let checks = counts.liveness_checks.load(Ordering::SeqCst);
    let value = op.await;
    (
        value,
        counts.round_trips.load(Ordering::SeqCst) - trips,
        counts.liveness_checks.load(Ordering::SeqCst) - checks,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_item_batch_save_is_one_round_trip_whether_it_lands_or_conflicts() {
    let (store, counts, _db) = counted_store().await;
    let batch: Vec<_> = (0..1000)
        .map(|n| session(&format!("batch-{n:04}"), SessionState::Active))
        .collect();

    let (versions, trips, checks) = counted(&counts, store.save_many(&batch)).await;
    assert_eq!(versions.expect("batch lands"), vec![1; 1000]);
    assert_eq!(trips, 1, "a landing batch of 1,000 is one round trip");
    assert!(checks <= 1, "one checkout, one liveness check at most");

    // The same batch again: every item now exists, so the first one conflicts.
    let (result, trips, _) = counted(&counts, store.save_many(&batch)).await;
    assert!(
        matches!(&result, Err(Error::VersionConflict { key, expected: 0, actual: Some(1) }) if key == "batch-0000"),
        "{result:?}"
    );
    assert_eq!(
        trips, 1,
        "a conflicting batch of 1,000 is one round trip too"
    );
}
