//! A TCP proxy between the service and Postgres that the test controls: it forwards, freezes
//! (keeps every socket open and forwards nothing, as a hung host or a stuck middlebox does),
//! cuts (closes every connection and closes each new one at once) or goes down (refuses
//! connections), and counts the connections it was asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// What the proxy does with the bytes and connections it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forward,
    /// Sockets stay open, nothing is forwarded either way, new connections are accepted.
    Freeze,
    /// New connections are accepted and closed at once.
    Cut,
}

/// Forwards a local port to Postgres; see the module.
pub struct Proxy {
    pub port: u16,
    upstream: String,
    mode: watch::Sender<Mode>,
    connects: Arc<AtomicUsize>,
    listener: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy to the Postgres of `postgres_url`.
    pub async fn start(postgres_url: &str) -> Proxy {
        let url = Url::parse(postgres_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let listener = bind(0).await;
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            upstream,
            mode: watch::channel(Mode::Forward).0,
            connects: Arc::default(),
            listener: Mutex::default(),
            connections: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.connections.clone());
        let (mode, connects) = (self.mode.clone(), self.connects.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                connects.fetch_add(1, Ordering::SeqCst);
                if *mode.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                let (upstream, mode) = (upstream.clone(), mode.subscribe());
                let forward = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        () = pipe(client_read, server_write, mode.clone()) => {}
                        () = pipe(server_read, client_write, mode) => {}
                    }
                });
                tasks.lock().unwrap().push(forward);
            }
        });
        *self.listener.lock().unwrap() = Some(accept);
    }

    /// Holds every open connection silent, and every new one: nothing is forwarded until
    /// `thaw` (or `cut`).
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Freeze);
    }

    /// Forwards again (after `freeze`, on the connections held as well; after `cut`).
    pub fn thaw(&self) {
        self.mode.send_replace(Mode::Forward);
    }

    /// Closes every open connection and each new one at once (still accepting, to count them).
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
        self.drop_connections();
    }

    /// Refuses new connections and cuts every open one, as a dead database host would.
    pub fn down(&self) {
        if let Some(listener) = self.listener.lock().unwrap().take() {
            listener.abort();
        }
        self.drop_connections();
    }

    /// Listens again (after `down`), forwarding.
    pub async fn up(&self) {
        self.mode.send_replace(Mode::Forward);
        self.serve(bind(self.port).await);
    }

    /// How many connections were asked of the proxy so far.
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    /// Closes the connections being forwarded, keeping the listener.
    fn drop_connections(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Copies `from` to `to`, holding what it read while the proxy is frozen.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        if mode.wait_for(|m| *m == Mode::Forward).await.is_err() {
            return;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if mode.wait_for(|m| *m == Mode::Forward).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

async fn bind(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(([127, 0, 0, 1], port).into()).unwrap();
    socket.listen(64).unwrap()
}
