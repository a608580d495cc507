//! Hostile: tries to open network sockets; the sandbox must refuse.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Socket;

impl Handler for Socket {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let tcp = std::net::TcpStream::connect("127.0.0.1:8080").map(|_| ());
        let udp = std::net::UdpSocket::bind("0.0.0.0:0").map(|_| ());
        let listen = std::net::TcpListener::bind("127.0.0.1:0").map(|_| ());
        match (tcp, udp, listen) {
            (Err(t), Err(u), Err(l)) => Err(HandlerError::bad_input(format!("tcp: {t}; udp: {u}; listen: {l}"))),
            (t, u, l) => Err(HandlerError::internal(format!("NETWORK REACHED tcp={:?} udp={:?} listen={:?}", t.is_ok(), u.is_ok(), l.is_ok()))),
        }
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Socket);
