//! The SDK's image pipeline gives the same tensor inside the sandbox as natively, and a
//! body that is not an image is the client's error, with the SDK's message.

mod common;

use common::*;
use ferroserve_handler::image::ImagePipeline;
use ferroserve_sandbox::{HandlerRequest, Limits};
use ferroserve_test_fixtures::{IMAGE_PREP, images::photo_jpeg};

fn image_request(body: Vec<u8>) -> HandlerRequest {
    HandlerRequest {
        body: body.into(),
        content_type: Some("image/jpeg".into()),
        ..HandlerRequest::default()
    }
}

#[test]
fn wasm_and_native_agree_on_a_jpeg() {
    let sandbox = sandbox(None);
    let limits = Limits {
        memory_bytes: 128 << 20,
        deadline: std::time::Duration::from_secs(5),
        ..limits()
    };
    let handler = load(&sandbox, IMAGE_PREP, None, limits);
    let jpeg = photo_jpeg(640, 480);
    let native = ImagePipeline::imagenet().run(&jpeg, "input").unwrap();
    let (result, _) = handler.preprocess_blocking(image_request(jpeg));
    let prepared = result.unwrap();
    let tensor = &prepared.inputs[0];
    assert_eq!(tensor.name(), "input");
    assert_eq!(tensor.shape(), &[3, 224, 224]);
    assert_eq!(tensor.data().as_ref(), native.data.as_slice());
}

#[test]
fn a_body_that_is_not_an_image_is_bad_input() {
    let sandbox = sandbox(None);
    let handler = load(&sandbox, IMAGE_PREP, None, limits());
    let (result, _) = handler.preprocess_blocking(image_request(b"hello, not an image".to_vec()));
    let err = result.unwrap_err();
    assert_eq!(err.kind(), "HandlerBadInput");
    assert!(err.to_string().contains("not a JPEG or PNG"), "{err}");
}
