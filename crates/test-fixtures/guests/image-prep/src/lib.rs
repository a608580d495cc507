//! ImageNet preprocessing of a JPEG/PNG body into a [3,224,224] f32 tensor, via the SDK's
//! image feature. The benchmark runs the same SDK code natively to compare.

use ferroserve_handler::image::ImagePipeline;
use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct ImagePrep;

impl Handler for ImagePrep {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let input = ImagePipeline::imagenet().run(&request.body, "input")?;
        Ok(Prepared { inputs: vec![input], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        Ok(Response { body: b"ok".to_vec(), content_type: "text/plain".into(), status: 200, headers: Vec::new() })
    }
}

ferroserve_handler::export!(ImagePrep);
