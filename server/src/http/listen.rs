//! The listening sockets. Every connection they accept has `TCP_NODELAY`: hyper writes
//! an answer's head and a large body as separate segments, and under Nagle's algorithm
//! the second waits for the client's ACK of the first, which a client may delay by
//! 40 ms. A 17 KB listing page took 44 ms on an idle machine while a 9 KB one took
//! 1.4 ms. The option is set on the listening socket and accepted sockets inherit it
//! (Linux, the BSDs, macOS), so salvo's own acceptor, with its connection limits, stays.

use std::io;
use std::net::SocketAddr;

use salvo::conn::Listener;
use salvo::conn::tcp::TcpAcceptor;
use tokio::net::TcpSocket;

/// Connections the kernel queues before they are accepted (as tokio's `bind`).
const BACKLOG: u32 = 1024;

/// Binds `addr`; every connection accepted from it has `TCP_NODELAY`.
pub fn bind(addr: SocketAddr) -> io::Result<TcpAcceptor> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As tokio's `TcpListener::bind` on Unix: a restarted server can take its port back
    // while connections of the old one linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    TcpAcceptor::try_from(socket.listen(BACKLOG)?)
}

/// A socket [`bind`] bound, handed to salvo's TLS listener (which binds what it wraps).
pub struct Bound(pub TcpAcceptor);

impl Listener for Bound {
    type Acceptor = TcpAcceptor;

    async fn try_bind(self) -> salvo::Result<TcpAcceptor> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_acks() {
        let acceptor = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = acceptor.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = acceptor.inner().accept().await.unwrap();
        assert!(
            accepted.nodelay().unwrap(),
            "the server's side has TCP_NODELAY"
        );
        drop(client);
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error_not_a_panic() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = first.local_addr().unwrap();
        assert!(bind(taken).is_err());
    }
}
