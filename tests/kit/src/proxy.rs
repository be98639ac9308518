//! A TCP proxy on loopback in front of one server, for what no real server does on request: a
//! partition (the proxy keeps every connection open and drops every byte, as a lost route
//! does) and a record of what clients sent (a [`Tap`] sees each client's bytes in the order
//! they are forwarded).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Reads one connection's bytes, called with each chunk before it is forwarded.
pub type Reader = Box<dyn FnMut(&[u8]) + Send>;

/// Sees what clients send through a proxy, one reader per connection.
pub trait Tap: Send + Sync + 'static {
    /// A reader of one new connection's bytes.
    fn connection(&self) -> Reader;
}

/// No tap: the bytes are only forwarded.
struct Untapped;

impl Tap for Untapped {
    fn connection(&self) -> Reader {
        Box::new(|_| {})
    }
}

/// What the proxy's threads share.
struct Shared {
    /// The server's `host:port`.
    upstream: String,
    /// While set, every byte either way is dropped and the connections stay open.
    cut: AtomicBool,
    /// The server side of every connection made so far, closed when a cut heals: the bytes
    /// they lost leave their streams broken.
    open: Mutex<Vec<TcpStream>>,
    /// Held while a chunk is tapped and forwarded, so the tap sees chunks in forwarding order
    /// across connections.
    forwarding: Mutex<()>,
    /// The tap.
    tap: Box<dyn Tap>,
}

/// A running proxy; its threads end with the process.
pub struct Proxy {
    /// `127.0.0.1:PORT`, where clients connect.
    pub addr: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy in front of `upstream` that only forwards.
    pub fn start(upstream: &str) -> Self {
        Self::tapped(upstream, Untapped)
    }

    /// A proxy in front of `upstream` whose clients' bytes `tap` sees.
    pub fn tapped(upstream: &str, tap: impl Tap) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            cut: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            forwarding: Mutex::new(()),
            tap: Box::new(tap),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = accepting.clone();
                std::thread::spawn(move || connect(shared, client));
            }
        });
        Self { addr, shared }
    }

    /// Partitions the clients from the server: from now on every byte is dropped, either way,
    /// and new connections are accepted into the same silence.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
    }

    /// Ends a partition: the connections it held are closed, and new ones reach the server.
    pub fn heal(&self) {
        let held = std::mem::take(&mut *self.shared.open.lock().unwrap_or_else(|e| e.into_inner()));
        for connection in held {
            let _ = connection.shutdown(Shutdown::Both);
        }
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

/// Joins `client` to a new connection to the server, one thread each way.
fn connect(shared: Arc<Shared>, client: TcpStream) {
    let Ok(server) = TcpStream::connect(&shared.upstream) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_in), Ok(server_out), Ok(held)) = (client.try_clone(), server.try_clone(), server.try_clone()) else {
        return;
    };
    shared.open.lock().unwrap_or_else(|e| e.into_inner()).push(held);
    let mut tap = shared.tap.connection();
    let back = shared.clone();
    std::thread::spawn(move || pump(&back, server, client, &mut |_| {}));
    pump(&shared, client_in, server_out, &mut tap);
}

/// Copies `from` to `to`, through `tap`, until either ends; drops the bytes while the proxy is
/// cut.
fn pump(shared: &Shared, mut from: TcpStream, mut to: TcpStream, tap: &mut dyn FnMut(&[u8])) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.cut.load(Ordering::SeqCst) {
            continue;
        }
        let _order = shared.forwarding.lock().unwrap_or_else(|e| e.into_inner());
        tap(&buffer[..read]);
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
