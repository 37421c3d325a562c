//! A loopback TCP proxy that can make its open connections die silently: it keeps both
//! sockets open but stops forwarding, the way a network partition or a half-open TCP
//! connection looks to the client (no FIN, no RST, no reply).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// The proxy; connections accepted before [`Blackhole::silence_open_connections`] go silent.
pub struct Blackhole {
    port: u16,
    next_id: Arc<AtomicU64>,
    silenced_below: Arc<AtomicU64>,
}

impl Blackhole {
    /// Listens on an ephemeral loopback port and forwards to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let next_id = Arc::new(AtomicU64::new(0));
        let silenced_below = Arc::new(AtomicU64::new(0));
        let (ids, silenced) = (Arc::clone(&next_id), Arc::clone(&silenced_below));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .expect("connect upstream");
                let id = ids.fetch_add(1, Ordering::SeqCst);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(
                    client_read,
                    server_write,
                    id,
                    Arc::clone(&silenced),
                ));
                tokio::spawn(forward(
                    server_read,
                    client_write,
                    id,
                    Arc::clone(&silenced),
                ));
            }
        });
        Self {
            port,
            next_id,
            silenced_below,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, every connection opened so far swallows what either side sends.
    pub fn silence_open_connections(&self) {
        let opened = self.next_id.load(Ordering::SeqCst);
        self.silenced_below.store(opened, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes; once connection `id` is silenced, reads
/// continue (the sender sees its writes succeed) but nothing is passed on.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    id: u64,
    silenced: Arc<AtomicU64>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    while let Ok(read @ 1..) = from.read(&mut buffer).await {
        if id < silenced.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
}
