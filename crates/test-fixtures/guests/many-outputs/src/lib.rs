//! Hostile: preprocess returns many empty tensors (count in the body, default 1,000,000)
//! with long names: nothing the byte cap counts, everything the host must materialise.

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Many;

impl Handler for Many {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let n: usize = String::from_utf8_lossy(&request.body).trim().parse().unwrap_or(1_000_000);
        let mut inputs = Vec::with_capacity(n);
        for i in 0..n {
            inputs.push(Tensor::from_slice::<f32>(&format!("input-{i:0>24}"), &[0], &[])?);
        }
        Ok(Prepared { inputs, context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        Ok(Response { body: Vec::new(), content_type: "text/plain".into(), status: 200, headers: Vec::new() })
    }
}

ferroserve_handler::export!(Many);
