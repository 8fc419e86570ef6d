//! A TCP proxy a fault test puts between the app and one of its services (issue 18, items
//! 18–19): it forwards bytes while open, closes every connection (and each new one at once)
//! while stopped, and holds every byte while paused — a partitioned network, or a server that
//! stopped answering. The machine's shared services are never touched.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards.
    Open,
    /// Holds every byte (connections stay up, nothing arrives).
    Paused,
    /// Closes every connection, and each new one at once.
    Stopped,
}

/// A running proxy to one address.
pub struct Proxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, _) = watch::channel(Mode::Open);
        let mode = Arc::new(mode);
        let target = target.to_owned();
        let accepting = Arc::clone(&mode);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *accepting.borrow() == Mode::Stopped {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, accepting.subscribe()));
            }
        });
        Proxy { port, mode }
    }

    /// `url` with its `host:port` replaced by this proxy's.
    pub fn url_through(&self, url: &str) -> String {
        let (start, end) = authority(url);
        format!("{}127.0.0.1:{}{}", &url[..start], self.port, &url[end..])
    }

    /// The `host:port` a service URL names.
    pub fn target_of(url: &str) -> String {
        let (start, end) = authority(url);
        url[start..end].to_owned()
    }

    /// Switches to `mode`.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// Where a service URL's `host:port` lies: after `@` (or `//`), up to the next `/`.
fn authority(url: &str) -> (usize, usize) {
    let start = url
        .find('@')
        .map(|at| at + 1)
        .or_else(|| url.find("//").map(|s| s + 2))
        .unwrap();
    let end = url[start..].find('/').map_or(url.len(), |e| start + e);
    (start, end)
}

/// Copies both ways while open; waits while paused; ends both sides when stopped.
async fn pipe(client: TcpStream, server: TcpStream, mode: watch::Receiver<Mode>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = forward(&mut client_read, &mut server_write, mode.clone());
    let down = forward(&mut server_read, &mut client_write, mode);
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

async fn forward(
    from: &mut (impl AsyncReadExt + Unpin),
    to: &mut (impl AsyncWriteExt + Unpin),
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.wait_for(|m| *m == Mode::Stopped) => {
                let _ = changed;
                return;
            }
        };
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Mode::Open => break,
                Mode::Stopped => return,
                Mode::Paused => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
