//! A loopback proxy in front of a PostgreSQL server that counts what its clients send, for
//! tests that assert round-trip budgets on the wire.
//!
//! Two measures:
//!
//! - **Round trips**: messages the client must wait on, i.e. a `Sync` (the end of an extended-
//!   protocol statement, including a prepare) or a simple `Query`. Pipelined statements count
//!   one each. The pool's liveness check (an empty simple query) is counted apart, as
//!   `liveness_checks`.
//! - **Flights**: runs of client bytes not interrupted by a reply from the server, per
//!   connection. Statements sent together (pipelined) are one flight; a client that waits for
//!   an answer before sending again starts a new one. This is what latency pays for.
//!
//! Each chunk is counted before it is forwarded, so a reply never overtakes the count of its
//! request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::TestkitError;

/// Startup-phase request codes that keep the client in the startup phase (SSL, GSSAPI).
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// What the proxy's clients have sent so far (or between two snapshots, by subtraction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounts {
    /// `Sync` and non-empty `Query` messages.
    pub round_trips: u64,
    /// Empty `Query` messages (the pool's liveness check).
    pub liveness_checks: u64,
    /// Runs of client bytes between two server replies, over all connections.
    pub flights: u64,
}

impl std::ops::Sub for WireCounts {
    type Output = Self;

    fn sub(self, earlier: Self) -> Self {
        Self {
            round_trips: self.round_trips - earlier.round_trips,
            liveness_checks: self.liveness_checks - earlier.liveness_checks,
            flights: self.flights - earlier.flights,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    round_trips: AtomicU64,
    liveness_checks: AtomicU64,
    flights: AtomicU64,
}

/// A counting proxy on `127.0.0.1`; it runs until the runtime that started it ends.
#[derive(Debug, Clone)]
pub struct WireProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
}

impl WireProxy {
    /// Starts a proxy to the server on `127.0.0.1:upstream`.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Io`] when no local port can be bound.
    pub async fn start(upstream: u16) -> Result<Self, TestkitError> {
        let io = |action: &str| {
            let action = action.to_owned();
            move |source| TestkitError::Io { action, source }
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("bind the wire proxy"))?;
        let addr = listener
            .local_addr()
            .map_err(io("read the proxy address"))?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                match TcpStream::connect(("127.0.0.1", upstream)).await {
                    Ok(server) => {
                        tokio::spawn(pump(client, server, Arc::clone(&shared)));
                    }
                    Err(err) => tracing::warn!(error = %err, upstream, "wire proxy: no upstream"),
                }
            }
        });
        Ok(Self { addr, counters })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The host clients connect to (`127.0.0.1`).
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// What has been sent so far.
    pub fn counts(&self) -> WireCounts {
        WireCounts {
            round_trips: self.counters.round_trips.load(Ordering::SeqCst),
            liveness_checks: self.counters.liveness_checks.load(Ordering::SeqCst),
            flights: self.counters.flights.load(Ordering::SeqCst),
        }
    }
}

/// Splits one client's byte stream into protocol messages and counts them.
struct Framer {
    counters: Arc<Counters>,
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
        let length = u32::from_be_bytes(length.try_into().ok()?);
        let total = header + usize::try_from(length).ok()?;
        let message = self.pending.get(..total)?;
        if self.startup {
            let code = u32::from_be_bytes(message.get(4..8)?.try_into().ok()?);
            self.startup = code == SSL_REQUEST || code == GSSENC_REQUEST;
        } else {
            let counter = match message[0] {
                b'S' => Some(&self.counters.round_trips),
                b'Q' if message.get(5..) == Some(&[0]) => Some(&self.counters.liveness_checks),
                b'Q' => Some(&self.counters.round_trips),
                _ => None,
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
        Some(total)
    }
}

/// Forwards both directions until either side closes, counting the client's side.
async fn pump(client: TcpStream, server: TcpStream, counters: Arc<Counters>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Whether the server has replied since the client last sent: the next chunk is a flight.
    let replied = Arc::new(AtomicBool::new(true));
    let replied_down = Arc::clone(&replied);
    let mut framer = Framer {
        counters: Arc::clone(&counters),
        startup: true,
        pending: Vec::new(),
    };
    let upstream = async move {
        let mut buffer = vec![0_u8; 64 * 1024];
        while let Ok(read @ 1..) = client_read.read(&mut buffer).await {
            if replied.swap(false, Ordering::SeqCst) {
                counters.flights.fetch_add(1, Ordering::SeqCst);
            }
            framer.feed(&buffer[..read]);
            if server_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let mut buffer = vec![0_u8; 64 * 1024];
        while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
            replied_down.store(true, Ordering::SeqCst);
            if client_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(upstream, downstream);
}
