//! Hostile: allocates until the memory cap stops it.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct MemBomb;

impl Handler for MemBomb {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; 8 << 20];
            chunk[0] = 1;
            hoard.push(std::hint::black_box(chunk));
        }
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(MemBomb);
