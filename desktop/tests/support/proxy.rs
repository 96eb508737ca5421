//! A TCP forwarder that can be switched off and on, to cut the network between the app
//! and a real server (every open connection dies with it) and restore it on the same port.
//! It can also lose answers: the request reaches the server, and the connection closes
//! as the answer starts back (a 201 lost on the way).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The forwarder; dropping it stops it.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
    /// Answers still to lose.
    lose: Arc<AtomicUsize>,
}

impl Proxy {
    /// Forwards a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = Self {
            addr,
            upstream,
            task: None,
            lose: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    /// The next `n` answers, on any connection, are cut off as they start.
    pub fn lose_answers(&self, n: usize) {
        self.lose.store(n, Ordering::SeqCst);
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, lose) = (self.upstream, Arc::clone(&self.lose));
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let lose = Arc::clone(&lose);
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        forward(client, server, &lose).await;
                    }
                });
            }
        }));
    }

    /// Cuts the network: the port refuses connections and open ones are closed.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort(); // drops the listener and the JoinSet, closing every connection
        }
    }

    /// Restores the network on the same port.
    pub async fn resume(&mut self) {
        // The aborted task lets go of the port asynchronously.
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("port {} did not come free", self.addr);
    }
}

/// Copies both ways until either side ends or an answer is to be lost; returning drops
/// (closes) both connections.
async fn forward(client: TcpStream, server: TcpStream, lose: &AtomicUsize) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = tokio::io::copy(&mut from_client, &mut to_server);
    let down = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = from_server.read(&mut buf).await?;
            let losing = lose
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if n == 0 || losing {
                return Ok::<_, std::io::Error>(());
            }
            to_client.write_all(&buf[..n]).await?;
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}
