//! Hostile: returns outputs larger than the host's output cap (size in the body, MiB).

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Big;

fn mib(request: &Request) -> usize {
    String::from_utf8_lossy(&request.body).trim().parse().unwrap_or(32)
}

impl Handler for Big {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let n = mib(&request) << 20;
        let t = Tensor::from_slice("input", &[n as u64], &vec![7u8; n])?;
        Ok(Prepared { inputs: vec![t], context: (n as u64).to_le_bytes().to_vec() })
    }

    fn postprocess(_outputs: Vec<Tensor>, context: Vec<u8>) -> Result<Response, HandlerError> {
        let n = u64::from_le_bytes(context.try_into().unwrap_or([0; 8])) as usize;
        Ok(Response { body: vec![b'z'; n], content_type: "application/octet-stream".into(), status: 200, headers: Vec::new() })
    }
}

ferroserve_handler::export!(Big);
