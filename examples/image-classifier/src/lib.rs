//! The image classifier handler: a JPEG or PNG in, the top-5 labels out, in TorchServe's
//! image_classifier shape (`{"label": probability, ...}`, most likely first).
//!
//! Preprocessing is torchvision's ImageNet recipe (the SDK's `ImagePipeline::imagenet()`);
//! the labels come from `labels.txt`, which the archive ships (`--extra-files`) and the
//! sandbox mounts read-only at `/`. `?topk=N` (or the archive's `handlerParams.topk`)
//! changes how many come back.

use ferroserve_handler::image::ImagePipeline;
use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

const LABELS: &str = "/labels.txt";

struct Classifier;

impl Handler for Classifier {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let k = match request.param("topk") {
            None => 5,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|k| (1..=1000).contains(k))
                .ok_or_else(|| {
                    HandlerError::bad_input(format!(
                        "topk={s:?}: give a whole number from 1 to 1000"
                    ))
                })?,
        };
        let input = ImagePipeline::imagenet().run(&request.body, "input")?;
        Ok(Prepared {
            inputs: vec![input],
            context: k.to_le_bytes().to_vec(),
        })
    }

    fn postprocess(outputs: Vec<Tensor>, context: Vec<u8>) -> Result<Response, HandlerError> {
        let k = context.try_into().map(u32::from_le_bytes).unwrap_or(5) as usize;
        let logits: Vec<f32> = outputs
            .first()
            .ok_or_else(|| HandlerError::internal("the model returned no output"))?
            .to_vec()?;
        let labels = std::fs::read_to_string(LABELS).map_err(|e| {
            HandlerError::internal(format!("{LABELS} is missing from the archive ({e}); archive it with --extra-files labels.txt"))
        })?;
        let labels: Vec<&str> = labels.lines().collect();
        if labels.len() != logits.len() {
            return Err(HandlerError::internal(format!(
                "{LABELS} has {} labels but the model returned {} scores",
                labels.len(),
                logits.len()
            )));
        }
        Ok(Response {
            body: top_k_json(&logits, &labels, k).into_bytes(),
            content_type: "application/json".into(),
            status: 200,
            headers: Vec::new(),
        })
    }
}

/// `{"label": probability, ...}` for the `k` most likely, most likely first. Built by hand
/// to keep that order: serde_json's map (without `preserve_order`) sorts its keys.
fn top_k_json(logits: &[f32], labels: &[&str], k: usize) -> String {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let mut ranked: Vec<usize> = (0..exp.len()).collect();
    ranked.sort_by(|&a, &b| exp[b].total_cmp(&exp[a]));
    let pairs: Vec<String> = ranked
        .iter()
        .take(k)
        .map(|&i| {
            format!(
                "{}: {}",
                serde_json::json!(labels[i]),
                serde_json::json!(f64::from(exp[i] / sum))
            )
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

ferroserve_handler::export!(Classifier);

#[cfg(test)]
mod tests {
    #[test]
    fn top_k_is_ordered_and_escapes_labels() {
        let json = super::top_k_json(&[0.0, 2.0, 1.0], &["a", "say \"b\"", "c"], 2);
        assert!(json.starts_with(r#"{"say \"b\"": 0.66"#), "{json}");
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed.contains_key("c"));
    }
}
