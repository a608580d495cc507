//! Hostile: sleeps in preprocess, a WASI clock wait the host blocks on (seconds in the
//! body, default 10), then sleeps again: the host must end both at the call's deadline.

use std::time::Duration;

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Sleep;

impl Handler for Sleep {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let secs: u64 = String::from_utf8_lossy(&request.body).trim().parse().unwrap_or(10);
        std::thread::sleep(Duration::from_secs(secs));
        std::thread::sleep(Duration::from_secs(secs));
        let t = Tensor::from_slice("input", &[1], &[0.0f32])?;
        Ok(Prepared { inputs: vec![t], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        Ok(Response { body: b"woke".to_vec(), content_type: "text/plain".into(), status: 200, headers: Vec::new() })
    }
}

ferroserve_handler::export!(Sleep);
