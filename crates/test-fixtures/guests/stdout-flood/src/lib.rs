//! Hostile: writes 100 MB to stdout and 1 MB to stderr, then succeeds.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};
use std::io::Write;

struct Flood;

impl Handler for Flood {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let line = vec![b'x'; 1 << 20];
        let mut out = std::io::stdout().lock();
        for _ in 0..100 {
            // The host discards past its cap; a write error here would be a host bug.
            out.write_all(&line).map_err(|e| HandlerError::internal(e.to_string()))?;
        }
        eprintln!("{}", "e".repeat(1 << 20));
        let t = Tensor::from_slice("input", &[1], &[1.0f32])?;
        Ok(Prepared { inputs: vec![t], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Flood);
