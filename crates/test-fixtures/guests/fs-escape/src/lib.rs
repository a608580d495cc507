//! Hostile: reads the path named in the body; the sandbox must confine it to the archive's files.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct FsEscape;

impl Handler for FsEscape {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let path = String::from_utf8_lossy(&request.body).into_owned();
        match std::fs::read(&path) {
            // Reading succeeded: hand the bytes back so a test can see what leaked.
            Ok(bytes) => {
                let t = Tensor::from_slice("contents", &[bytes.len() as u64], &bytes)?;
                Ok(Prepared { inputs: vec![t], context: Vec::new() })
            }
            Err(e) => Err(HandlerError::bad_input(format!("cannot read {path}: {e}"))),
        }
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(FsEscape);
