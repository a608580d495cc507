//! Hostile: opens `/labels.txt` from its archive's files N times (N in the body, default
//! 20,000), keeping every handle, to take the host's file descriptors. The host must stop
//! it at its per-call resource cap and close what it opened.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct OpenFiles;

impl Handler for OpenFiles {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let n: usize = String::from_utf8_lossy(&request.body).trim().parse().unwrap_or(20_000);
        let mut open = Vec::with_capacity(n);
        for i in 0..n {
            match std::fs::File::open("/labels.txt") {
                Ok(f) => open.push(f),
                Err(e) => return Err(HandlerError::internal(format!("open #{i} failed: {e}"))),
            }
        }
        let t = Tensor::from_slice("opened", &[1], &[open.len() as f32])?;
        Ok(Prepared { inputs: vec![t], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(OpenFiles);
